/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qkd_nlfuzz: a grammar-aware fuzzer of the "qkd" generic netlink family.
 * Shared types of its parts:
 *   nlfuzz_grammar.c  the family's attributes and operations (from the UAPI
 *                     header and docs/netlink/qkd.yaml) and what a handler
 *                     must refuse
 *   nlfuzz_gen.c      one message from a seed: valid, boundary and mutated
 *   nlfuzz_sock.c     raw netlink sockets: resolve, send, match replies
 *   nlfuzz_mem.c      leak oracles: slab, vmalloc, objects of the module
 *   nlfuzz_mod.c      module load, unload and the reload loop
 *   qkd_nlfuzz.c      options, phases, threads, oracles, report
 */
#ifndef NLFUZZ_H
#define NLFUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/qkd.h>

#define FZ_MSG_MAX	(64 * 1024)
#define FZ_NAMES	24	/* link names of the pool: f0 .. f23 */
#define FZ_IDS		512	/* key IDs of the pool */
#define FZ_NOP		256	/* genl commands counted: 0..255 */

/* ---- PRNG: one per message, so that any message can be replayed -------- */

struct fz_rng {
	uint64_t s;
};

static inline uint64_t fz_next(struct fz_rng *r)
{
	/* splitmix64: tiny, fast, good enough for picking fuzz choices */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint32_t fz_below(struct fz_rng *r, uint32_t n)
{
	return n ? (uint32_t)(fz_next(r) % n) : 0;
}

/* true with probability pct/100 */
static inline bool fz_chance(struct fz_rng *r, unsigned int pct)
{
	return fz_below(r, 100) < pct;
}

/* The stream of thread t, message i of a run with seed s. */
static inline void fz_seed(struct fz_rng *r, uint64_t s, unsigned int t,
			   uint64_t i)
{
	r->s = s ^ ((uint64_t)t << 48) ^ (i * 0xd1342543de82ef95ULL);
	fz_next(r);
}

/* ---- grammar ------------------------------------------------------------ */

enum fz_kind {
	FZ_K_NONE,	/* not an attribute of the set (UNSPEC) */
	FZ_K_PAD,
	FZ_K_STR,	/* NLA_NUL_STRING of at most max bytes before the NUL */
	FZ_K_U8,
	FZ_K_U32,
	FZ_K_U64,
	FZ_K_BIN,	/* NLA_BINARY of min..max bytes */
	FZ_K_NEST,
};

struct fz_attr_def {
	const char *name;
	enum fz_kind kind;
	uint32_t min, max;	/* value range, or length range (BIN, STR) */
};

struct fz_op_def {
	uint8_t cmd;
	const char *name;
	uint32_t takes;		/* bit n: takes QKD_A_n in requests */
	bool doit, dumpit;
};

extern const struct fz_attr_def fz_attrs[QKD_A_MAX + 1];
extern const struct fz_attr_def fz_key_attrs[QKD_KEY_A_MAX + 1];
extern const struct fz_op_def fz_ops[];
extern const unsigned int fz_nr_ops;

const struct fz_op_def *fz_op(unsigned int cmd);
const char *fz_op_name(unsigned int cmd);
const char *fz_attr_name(unsigned int type);

/*
 * What a request carries, as far as the handlers' own checks go (the
 * last of duplicate attributes counts, as in nla_parse()).
 */
struct fz_seen {
	uint32_t mask;		/* bit n: QKD_A_n present (valid value) */
	char name[QKD_LINK_NAME_MAX + 1];
	bool local_empty, remote_empty;
	uint32_t max_keys, low_watermark, take_flags;
	unsigned int nr_keys, nr_spi;
	bool key_incomplete, key_dup;
};

/*
 * NULL when the spec allows the request to succeed (it may still fail on
 * the state: no such link, no key), otherwise why it must be refused.
 */
const char *fz_must_refuse(unsigned int cmd, bool dump,
			   const struct fz_seen *seen);
bool fz_link_name_ok(const char *name);

/* ---- messages ----------------------------------------------------------- */

enum fz_class {
	FZ_C_VALID,
	FZ_C_EDGE_OK,		/* values at the edges of their ranges */
	FZ_C_EDGE_BAD,		/* one value just outside its range */
	FZ_C_FORBIDDEN,		/* an attribute the op does not take */
	FZ_C_UNKNOWN_ATTR,	/* type 0 or beyond QKD_A_MAX */
	FZ_C_WRONG_TYPE,	/* wrong length, missing NUL, nest flags */
	FZ_C_TRUNCATED,		/* an attribute longer than the message */
	FZ_C_BATCH,		/* key nests: 0..300, bad keys, duplicates */
	FZ_C_DUPLICATE,		/* one attribute twice */
	FZ_C_RANDOM,		/* random bytes after the genl header */
	FZ_C_HEADER,		/* bad nlmsg_len / genl header, versions */
	FZ_C_FLAGS,		/* NLM_F_DUMP on every op, other flags */
	FZ_C_DUMP_ABORT,	/* dump left unread or socket closed midway */
	FZ_C_UNKNOWN_CMD,
	FZ_C_FILL,		/* big valid injects (the caps phase) */
	FZ_NR_CLASSES
};

extern const char *const fz_class_names[FZ_NR_CLASSES];

struct fz_msg {
	uint8_t buf[FZ_MSG_MAX];
	size_t len;		/* bytes to send */
	uint8_t cmd;
	bool dump;
	enum fz_class cls;
	const char *why;	/* non-NULL: must be refused, and why */
	int why_attr;		/* the attribute that makes it so, or -1 */
	bool maybe_silent;	/* the core may drop it without an ack */
	bool barrier;		/* an ack may not come: send a NOOP after */
	bool abandon;		/* a dump we do not read to its end */
	bool close_after;	/* close the socket after the first reply */
};

enum fz_mode {
	FZ_MODE_ADMIN,		/* CAP_NET_ADMIN over the netns: everything */
	FZ_MODE_UNPRIV,		/* no capability: every request refused */
	FZ_MODE_FILL,		/* userns admin: press against the caps */
};

/* Build message i of thread t into m; family is the id to address. */
void fz_gen(struct fz_msg *m, uint64_t seed, unsigned int t, uint64_t i,
	    uint16_t family, enum fz_mode mode);

/* ---- sockets ------------------------------------------------------------ */

struct fz_sock {
	int fd;
	uint16_t family;
	uint32_t grp_keys, grp_monitor;
	uint32_t seq;
	unsigned int gen;	/* module load generation it resolved in */
};

struct fz_result {
	bool answered;		/* an ack, DONE or error for our seq came */
	int err;		/* its errno (0: accepted) */
	unsigned int parts;	/* data messages for our seq */
	unsigned int strays;	/* notifications, parts of old dumps */
	unsigned int intr;	/* parts flagged NLM_F_DUMP_INTR */
	bool timeout, overrun;
	char extack[128];
};

int fz_sock_open(struct fz_sock *s);
void fz_sock_close(struct fz_sock *s);
/* 0, or -ENOENT while the family is not registered, or -errno. */
int fz_resolve(struct fz_sock *s);
int fz_subscribe(struct fz_sock *s);
int fz_exchange(struct fz_sock *s, struct fz_msg *m, struct fz_result *r);
/* The namespace totals of STATS_GET: links, keys and bytes buffered. */
int fz_ns_stats(struct fz_sock *s, uint64_t *links, uint64_t *keys,
		uint64_t *bytes, uint64_t *bytes_high);

/* ---- module and memory ------------------------------------------------- */

extern volatile unsigned int fz_load_gen;	/* odd: being unloaded */

bool fz_mod_loaded(void);
int fz_mod_load(const char *ko);
int fz_mod_unload(unsigned int timeout_ms);
struct fz_reload {
	const char *ko;
	unsigned int period_ms;
	volatile bool stop;
	unsigned long reloads, busy, failed, away_ms;
};
void *fz_reload_thread(void *arg);

struct fz_mem {
	long long kmalloc_bytes;	/* /proc/slabinfo kmalloc-* caches */
	long qkd_caches;		/* caches named qkd_* */
	long qkd_objects;		/* live objects allocated by qkd */
	long stale_objects;		/* ... by code of an unloaded module */
	long qkd_vmaps;			/* vmalloc areas of qkd */
	bool traces;			/* object counts are known */
};
void fz_mem_read(struct fz_mem *m, bool traces);

/* ---- workers (nlfuzz_worker.c) --------------------------------------- */

#define FZ_NERR		136	/* errno 0..133, then: */
#define FZ_E_SILENT	134	/* no answer (the core may drop some) */
#define FZ_E_TIMEOUT	135	/* nothing within the receive timeout */
#define FZ_ROWS		(QKD_CMD_AUDIT_ANNOTATE + 2)	/* last: unknown */
#define FZ_MAX_SOCKS	8

struct fz_stats {
	uint64_t sent, judged, refused, accepted_bad, timeouts, overruns;
	uint64_t strays, raced, send_err, resolve_enoent, reopens, abandoned;
	uint64_t subscribe_refused, subscribe_tries, dump_intr;
	uint64_t by_class[FZ_NR_CLASSES];
	uint64_t by_op_err[FZ_ROWS][FZ_NERR];
};

struct fz_worker {
	unsigned int id, nsocks;
	enum fz_mode mode;
	uint64_t seed, first, count;
	volatile bool *stop;
	struct fz_stats st;
	struct fz_sock socks[FZ_MAX_SOCKS];
	unsigned int gen;
	bool finished;		/* set when the thread is done */
	struct fz_msg msg;
};

void *fz_worker_run(void *arg);
void fz_stats_add(struct fz_stats *to, const struct fz_stats *from);
void fz_stats_print(const struct fz_stats *st, const char *phase);
/* How many answers an op got with errno e (FZ_E_* included). */
uint64_t fz_stats_errs(const struct fz_stats *st, unsigned int e);
void fz_describe(const struct fz_msg *m, char *out, size_t size);

#endif /* NLFUZZ_H */
