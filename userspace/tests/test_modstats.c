// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The module's counters on the agent's metrics endpoint (agent/modstats.c)
 * through the real netlink sink (agent/sink_netlink.c) and libqkd, with
 * libqkd's fake kernel (lib/tests/fake_kernel.h) in place of the module:
 * the binary is linked with -Wl,--wrap=qkd_nl_connect,--wrap=qkd_nl_subscribe
 * so that the sink's open attaches its two handles to the fake.  Checks the
 * exact metric lines for a LINK_GET dump and an AUDIT_GET dump scripted
 * here, the module absent, an interrupted dump, an older module with fewer
 * counters, and label escaping.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include "fake_kernel.h"
#include "../agent/agent.h"
#include "../agent/expo.h"
#include "sakeying.h"
#include "tap.h"

int __wrap_qkd_nl_connect(struct qkd_nl *nl, unsigned int timeout_ms);
int __wrap_qkd_nl_connect(struct qkd_nl *nl, unsigned int timeout_ms)
{
	(void)timeout_ms;
	fake_kernel_attach(nl);
	return 0;
}

int __wrap_qkd_nl_subscribe(struct qkd_nl *nl, unsigned int groups);
int __wrap_qkd_nl_subscribe(struct qkd_nl *nl, unsigned int groups)
{
	(void)nl;
	(void)groups;
	return 0;
}

/* What the fake module holds: per link, a value for each counter sent. */
struct fake_link {
	const char *name;
	uint64_t v[QKD_STATS_A_MAX + 1];
	uint64_t sent;		/* bit (1 << QKD_STATS_A_*) of counters to send */
};

static struct {
	struct fake_link *links;
	int nlinks;
	int intr_left;		/* flag this many link dumps NLM_F_DUMP_INTR */
	int link_err;		/* answer LINK_GET with this error */
	int audit_err;		/* answer AUDIT_GET with this error */
	unsigned int link_dumps, audit_dumps;
} mod;

static void put_done(struct fake_dgram *d, const struct nlmsghdr *req)
{
	struct nlmsghdr *done = mnl_nlmsg_put_header(d->buf + d->len);

	done->nlmsg_type = NLMSG_DONE;
	done->nlmsg_flags = NLM_F_MULTI;
	done->nlmsg_seq = req->nlmsg_seq;
	done->nlmsg_pid = FAKE_PORT;
	*(int *)mnl_nlmsg_put_extra_header(done, sizeof(int)) = 0;
	fake_end(d, done);
}

static void answer_links(struct fake_dgram *d, const struct nlmsghdr *req)
{
	uint16_t flags = NLM_F_MULTI | (mod.intr_left > 0 ? NLM_F_DUMP_INTR : 0);
	int i;
	unsigned int t;

	mod.intr_left--;
	mod.link_dumps++;
	for (i = 0; i < mod.nlinks; i++) {
		struct nlmsghdr *nlh = fake_put_genl(d, req, FAKE_FAMILY, QKD_CMD_LINK_GET, flags);
		struct nlattr *st;

		mnl_attr_put_strz(nlh, QKD_A_LINK_NAME, mod.links[i].name);
		mnl_attr_put_strz(nlh, QKD_A_LOCAL_SAE_ID, "SAE_A");
		mnl_attr_put_strz(nlh, QKD_A_REMOTE_SAE_ID, "SAE_B");
		st = mnl_attr_nest_start(nlh, QKD_A_STATS);
		for (t = QKD_STATS_A_PAD + 1; t <= QKD_STATS_A_MAX; t++) {
			if (!(mod.links[i].sent & (1ULL << t)))
				continue;
			mnl_attr_put(nlh, QKD_STATS_A_PAD, 0, NULL);	/* as the kernel aligns u64s */
			mnl_attr_put_u64(nlh, (uint16_t)t, mod.links[i].v[t]);
		}
		mnl_attr_nest_end(nlh, st);
		fake_end(d, nlh);
	}
	put_done(d, req);
}

/* One take record: link, role, and n_spi SPIs. */
static void put_audit(struct fake_dgram *d, const struct nlmsghdr *req, uint64_t seq,
		      const char *link, uint8_t role, int n_spi)
{
	struct nlmsghdr *nlh = fake_put_genl(d, req, FAKE_FAMILY, QKD_CMD_AUDIT_GET, NLM_F_MULTI);
	struct nlattr *nest = mnl_attr_nest_start(nlh, QKD_A_AUDIT);
	uint8_t id[QKD_KEY_ID_LEN] = { 0 };
	int i;

	id[15] = (uint8_t)seq;
	mnl_attr_put(nlh, QKD_AUDIT_A_PAD, 0, NULL);
	mnl_attr_put_u64(nlh, QKD_AUDIT_A_SEQ, seq);
	mnl_attr_put(nlh, QKD_AUDIT_A_PAD, 0, NULL);
	mnl_attr_put_u64(nlh, QKD_AUDIT_A_TIME, 1764316800000000000ULL + seq);
	mnl_attr_put_strz(nlh, QKD_AUDIT_A_LINK_NAME, link);
	mnl_attr_put(nlh, QKD_AUDIT_A_KEY_ID, sizeof(id), id);
	mnl_attr_put_u8(nlh, QKD_AUDIT_A_ROLE, role);
	mnl_attr_put_u32(nlh, QKD_AUDIT_A_PID, 4242);
	mnl_attr_put_strz(nlh, QKD_AUDIT_A_COMM, "charon");
	for (i = 0; i < n_spi; i++)
		mnl_attr_put_u32(nlh, QKD_AUDIT_A_SPI, 0xc0000000u + (uint32_t)i);
	mnl_attr_nest_end(nlh, nest);
	fake_end(d, nlh);
}

static void answer_audit(struct fake_dgram *d, const struct nlmsghdr *req)
{
	mod.audit_dumps++;
	put_audit(d, req, 7, "to-b", QKD_KEY_ROLE_INITIATOR, 2);
	put_audit(d, req, 8, "to-b", QKD_KEY_ROLE_INITIATOR, 0);
	put_audit(d, req, 9, "gone", QKD_KEY_ROLE_INITIATOR, 1);	/* link deleted since */
	put_audit(d, req, 10, "to-a", QKD_KEY_ROLE_RESPONDER, 1);
	put_done(d, req);
}

static void answer(struct nlmsghdr *req, void *arg)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(req);
	struct fake_dgram *d = fake_dgram(0);

	(void)arg;
	if (g->cmd == QKD_CMD_LINK_GET && mod.link_err)
		fake_ack(d, req, mod.link_err, "no");
	else if (g->cmd == QKD_CMD_LINK_GET)
		answer_links(d, req);
	else if (g->cmd == QKD_CMD_AUDIT_GET && mod.audit_err)
		fake_ack(d, req, mod.audit_err, "no");
	else if (g->cmd == QKD_CMD_AUDIT_GET)
		answer_audit(d, req);
	else
		fake_ack(d, req, -EOPNOTSUPP, "not scripted");
}

/* The sample lines (not HELP/TYPE) of one render, one string. */
static char *render_samples(struct sink *s, int sink_ok, char **full)
{
	struct sbuf b = { NULL, 0, 0 };
	struct sbuf out = { NULL, 0, 0 };
	char *line, *save = NULL;
	struct audit_list audit;
	int audit_ok = modstats_audit_read(s, sink_ok, &audit);

	modstats_render(&b, s, sink_ok, audit_ok ? &audit : NULL);
	audit_list_free(&audit);
	*full = strdup(b.p ? b.p : "");
	for (line = strtok_r(b.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#')
			sb_printf(&out, "%s\n", line);
	free(b.p);
	return out.p ? out.p : strdup("");
}

static int same(const char *got, const char *want, const char *what)
{
	int r = ok(!strcmp(got, want), "%s", what);

	if (!r)
		tap_diag("got:\n%s# want:\n%s", got, want);
	return r;
}

static void all_counters(struct fake_link *l, uint64_t base)
{
	unsigned int t;

	for (t = QKD_STATS_A_PAD + 1; t <= QKD_STATS_A_MAX; t++) {
		l->v[t] = base + t;
		l->sent |= 1ULL << t;
	}
	l->v[QKD_STATS_A_KEYS_BUFFERED] = base + 40;	/* >= initiator_keys */
	l->v[QKD_STATS_A_INITIATOR_KEYS] = base + 30;
}

static const char full_want[] =
	"qkd_module_up 1\n"
	"qkd_module_links 2\n"
	"qkd_module_injected_total{link=\"to-b\"} 102\n"
	"qkd_module_injected_total{link=\"to-a\"} 2002\n"
	"qkd_module_taken_total{link=\"to-b\"} 103\n"
	"qkd_module_taken_total{link=\"to-a\"} 2003\n"
	"qkd_module_expired_total{link=\"to-b\"} 104\n"
	"qkd_module_expired_total{link=\"to-a\"} 2004\n"
	"qkd_module_flushed_total{link=\"to-b\"} 105\n"
	"qkd_module_flushed_total{link=\"to-a\"} 2005\n"
	"qkd_module_rate_limited_total{link=\"to-b\"} 109\n"
	"qkd_module_rate_limited_total{link=\"to-a\"} 2009\n"
	"qkd_module_wanted_total{link=\"to-b\"} 114\n"
	"qkd_module_wanted_total{link=\"to-a\"} 2014\n"
	"qkd_module_low_watermark_total{link=\"to-b\"} 115\n"
	"qkd_module_low_watermark_total{link=\"to-a\"} 2015\n"
	"qkd_module_keys_buffered{link=\"to-b\"} 140\n"
	"qkd_module_keys_buffered{link=\"to-a\"} 2040\n"
	"qkd_module_initiator_keys{link=\"to-b\"} 130\n"
	"qkd_module_initiator_keys{link=\"to-a\"} 2030\n"
	"qkd_module_bytes_buffered{link=\"to-b\"} 112\n"
	"qkd_module_bytes_buffered{link=\"to-a\"} 2012\n"
	"qkd_module_bytes_high_water{link=\"to-b\"} 113\n"
	"qkd_module_bytes_high_water{link=\"to-a\"} 2013\n"
	"qkd_module_pending{link=\"to-b\"} 117\n"
	"qkd_module_pending{link=\"to-a\"} 2017\n"
	"qkd_module_reserved{link=\"to-b\"} 118\n"
	"qkd_module_reserved{link=\"to-a\"} 2018\n"
	"qkd_module_rejected_total{link=\"to-b\",reason=\"duplicate\"} 106\n"
	"qkd_module_rejected_total{link=\"to-b\",reason=\"cap\"} 107\n"
	"qkd_module_rejected_total{link=\"to-b\",reason=\"not_found\"} 108\n"
	"qkd_module_rejected_total{link=\"to-b\",reason=\"reused\"} 116\n"
	"qkd_module_rejected_total{link=\"to-a\",reason=\"duplicate\"} 2006\n"
	"qkd_module_rejected_total{link=\"to-a\",reason=\"cap\"} 2007\n"
	"qkd_module_rejected_total{link=\"to-a\",reason=\"not_found\"} 2008\n"
	"qkd_module_rejected_total{link=\"to-a\",reason=\"reused\"} 2016\n"
	"qkd_module_pool_keys{link=\"to-b\",role=\"initiator\"} 130\n"
	"qkd_module_pool_keys{link=\"to-b\",role=\"responder\"} 10\n"
	"qkd_module_pool_keys{link=\"to-a\",role=\"initiator\"} 2030\n"
	"qkd_module_pool_keys{link=\"to-a\",role=\"responder\"} 10\n"
	"qkd_module_audit_up 1\n"
	"qkd_module_audit_seq 10\n"
	"qkd_module_audit_records{link=\"to-b\",role=\"initiator\"} 2\n"
	"qkd_module_audit_records{link=\"to-b\",role=\"responder\"} 0\n"
	"qkd_module_audit_records{link=\"to-a\",role=\"initiator\"} 0\n"
	"qkd_module_audit_records{link=\"to-a\",role=\"responder\"} 1\n"
	"qkd_module_audit_keyed_records{link=\"to-b\"} 1\n"
	"qkd_module_audit_keyed_records{link=\"to-a\"} 1\n"
	"qkd_module_audit_spis{link=\"to-b\"} 2\n"
	"qkd_module_audit_spis{link=\"to-a\"} 1\n";

/* Every HELP has a TYPE, and each family's samples follow its TYPE. */
static int families_grouped(const char *text)
{
	char *copy = strdup(text), *line, *save = NULL, fam[128] = "";
	int good = 1;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# TYPE ", 7)) {
			sscanf(line + 7, "%127s", fam);
		} else if (line[0] != '#') {
			size_t n = strlen(fam);

			if (!n || strncmp(line, fam, n) || (line[n] != '{' && line[n] != ' '))
				good = 0;
		}
	}
	free(copy);
	return good;
}

static void test_absent(struct sink *s)
{
	char *full, *got = render_samples(s, 0, &full);

	same(got, "qkd_module_up 0\nqkd_module_audit_up 0\n",
	     "module absent: qkd_module_up 0, no per-link samples");
	ok(strstr(full, "# TYPE qkd_module_taken_total counter\n") &&
	   strstr(full, "# TYPE qkd_module_pool_keys gauge\n") &&
	   strstr(full, "# TYPE qkd_module_rejected_total counter\n"),
	   "module absent: every family still has its TYPE line");
	ok(fk.sends == 0, "module absent: nothing sent (%u)", fk.sends);
	free(got);
	free(full);
}

static void test_full(struct sink *s, struct fake_link *links)
{
	char *full, *got;

	memset(links, 0, 2 * sizeof(*links));
	links[0].name = "to-b";
	links[1].name = "to-a";
	all_counters(&links[0], 100);
	all_counters(&links[1], 2000);
	mod.links = links;
	mod.nlinks = 2;
	got = render_samples(s, 1, &full);
	same(got, full_want, "two links, every counter, audit ring: exact sample lines");
	ok(mod.link_dumps == 1 && mod.audit_dumps == 1,
	   "one LINK_GET dump and one AUDIT_GET dump per scrape (%u, %u)", mod.link_dumps,
	   mod.audit_dumps);
	ok(families_grouped(full), "each family's samples follow its own TYPE line");
	ok(strstr(full, "# TYPE qkd_module_injected_total counter\n") &&
	   strstr(full, "# TYPE qkd_module_initiator_keys gauge\n") &&
	   strstr(full, "# TYPE qkd_module_bytes_high_water gauge\n") &&
	   strstr(full, "# TYPE qkd_module_low_watermark_total counter\n"),
	   "counters are counters, the module's \"now\" values gauges");
	free(got);
	free(full);
}

static void test_intr_and_errors(struct sink *s)
{
	char *full, *got;

	mod.link_dumps = mod.audit_dumps = 0;
	mod.intr_left = 1;
	got = render_samples(s, 1, &full);
	same(got, full_want, "links changed during the dump: dumped again, no link twice");
	ok(mod.link_dumps == 2, "interrupted dump repeated once (%u dumps)", mod.link_dumps);
	free(got);
	free(full);

	mod.audit_err = -EPERM;
	got = render_samples(s, 1, &full);
	ok(strstr(got, "qkd_module_up 1\n") && strstr(got, "qkd_module_audit_up 0\n") &&
	   !strstr(got, "qkd_module_audit_records{") && !strstr(got, "qkd_module_audit_seq "),
	   "audit dump refused: counters still there, audit_up 0, no audit samples");
	mod.audit_err = 0;
	free(got);
	free(full);

	mod.link_err = -ESHUTDOWN;
	got = render_samples(s, 1, &full);
	same(got, "qkd_module_up 0\nqkd_module_audit_up 0\n", "stats dump fails: qkd_module_up 0");
	mod.link_err = 0;
	free(got);
	free(full);
}

static void test_old_module_and_escaping(struct sink *s, struct fake_link *links)
{
	char *full, *got;

	memset(links, 0, sizeof(*links));
	links[0].name = "dc\"east\\1";
	links[0].v[QKD_STATS_A_TAKEN] = 5;
	links[0].v[QKD_STATS_A_INITIATOR_KEYS] = 3;
	links[0].v[QKD_STATS_A_REJECTED_CAP] = 1;
	links[0].sent = (1ULL << QKD_STATS_A_TAKEN) | (1ULL << QKD_STATS_A_INITIATOR_KEYS) |
			(1ULL << QKD_STATS_A_REJECTED_CAP);
	mod.nlinks = 1;
	got = render_samples(s, 1, &full);
	same(got,
	     "qkd_module_up 1\n"
	     "qkd_module_links 1\n"
	     "qkd_module_taken_total{link=\"dc\\\"east\\\\1\"} 5\n"
	     "qkd_module_initiator_keys{link=\"dc\\\"east\\\\1\"} 3\n"
	     "qkd_module_rejected_total{link=\"dc\\\"east\\\\1\",reason=\"cap\"} 1\n"
	     "qkd_module_audit_up 1\n"
	     "qkd_module_audit_seq 10\n"
	     "qkd_module_audit_records{link=\"dc\\\"east\\\\1\",role=\"initiator\"} 0\n"
	     "qkd_module_audit_records{link=\"dc\\\"east\\\\1\",role=\"responder\"} 0\n"
	     "qkd_module_audit_keyed_records{link=\"dc\\\"east\\\\1\"} 0\n"
	     "qkd_module_audit_spis{link=\"dc\\\"east\\\\1\"} 0\n",
	     "older module (3 counters): only those; no pool by role without keys_buffered; label escaped");
	free(got);
	free(full);
}

int main(void)
{
	struct fake_link links[2];
	struct sink s;

	memset(&s, 0, sizeof(s));
	if (!ok(sink_netlink_setup(&s) == 0, "netlink sink set up"))
		return tap_done();
	test_absent(&s);
	ok(s.ops->open(&s) == 0, "sink open (handles on the fake kernel)");
	fk.respond = answer;
	test_full(&s, links);
	test_intr_and_errors(&s);
	test_old_module_and_escaping(&s, links);
	s.ops->close(&s);
	return tap_done();
}
