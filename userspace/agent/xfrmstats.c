// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The kernel's IPsec SAs by keying on the agent's metrics endpoint
 * (qkd_xfrm_*): how many of the namespace's ESP/AH SAs a QKD key keyed
 * now, how many are classical, how many cannot be told, and the traffic
 * they carried.  "QKD-keyed vs classical" is the question an operator's
 * dashboard asks first; the answer must be the one `qkdctl xfrm` prints,
 * so both use the one rule of common/sakeying.h on the same two dumps (the
 * XFRM SA dump and the module's audit ring).
 *
 * Read at each scrape, like modstats.c and for its reasons: two dumps from
 * kernel memory, no cache to go stale.  The XFRM dump carries the SAs'
 * keys: xfrm_dump.c wipes every receive buffer and copies no key.  Needs
 * CAP_NET_ADMIN, which the agent holds for the key store; without it
 * qkd_xfrm_up is 0 and no SA is counted.
 *
 * Byte and packet sums are gauges: SAs come and go with rekeys, so the
 * sums over the SAs present now fall when old SAs are deleted.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "expo.h"
#include "sakeying.h"
#include "xfrm_dump.h"

#define XFRM_LINKS_MAX	256	/* links named per scrape; more are summed as "other" */

struct keying_sum {
	uint64_t sas, bytes, packets;
};

struct link_sum {
	char name[QKD_LINK_NAME_MAX];
	uint64_t sas;
};

struct xfrm_snap {
	int up, audit_ok;
	struct keying_sum by_keying[SA_KEYING_UNKNOWN + 1];
	struct link_sum links[XFRM_LINKS_MAX];
	size_t nlinks;
	uint64_t other_link_sas;
};

static void count_link(struct xfrm_snap *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nlinks; i++)
		if (!strcmp(s->links[i].name, name)) {
			s->links[i].sas++;
			return;
		}
	if (s->nlinks == XFRM_LINKS_MAX) {
		s->other_link_sas++;
		return;
	}
	snprintf(s->links[s->nlinks].name, sizeof(s->links[0].name), "%s", name);
	s->links[s->nlinks++].sas = 1;
}

static void collect(struct xfrm_snap *s, const struct audit_list *audit)
{
	struct sa_list sas;
	struct nl_status st;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (xfrm_sa_dump(&sas, &st) < 0)
		return;
	s->up = 1;
	s->audit_ok = audit != NULL;
	for (i = 0; i < sas.count; i++) {
		const struct sa_info *sa = &sas.sa[i];
		struct sa_annotation an;

		if (sa->proto != IPPROTO_ESP && sa->proto != IPPROTO_AH)
			continue;	/* IPComp SAs carry no key */
		an = annotate_sa(sa, audit);
		s->by_keying[an.keying].sas++;
		s->by_keying[an.keying].bytes += sa->bytes;
		s->by_keying[an.keying].packets += sa->packets;
		if (an.keying == SA_KEYING_QKD)
			count_link(s, an.rec->link);
	}
	sa_list_free(&sas);
}

static void render_keying(struct sbuf *b, const struct xfrm_snap *s)
{
	static const struct {
		const char *name, *text;
		size_t off;
	} fam[] = {
		{ "qkd_xfrm_sas", "ESP/AH SAs in the kernel now, by keying: qkd (an audit record of the "
		  "module names the SPI), classical, unknown (the record may have left the audit ring)",
		  offsetof(struct keying_sum, sas) },
		{ "qkd_xfrm_bytes", "bytes those SAs carried (curlft), by keying",
		  offsetof(struct keying_sum, bytes) },
		{ "qkd_xfrm_packets", "packets those SAs carried (curlft), by keying",
		  offsetof(struct keying_sum, packets) },
	};
	size_t f;
	int k;

	for (f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		help(b, fam[f].name, "gauge", fam[f].text);
		for (k = SA_KEYING_CLASSICAL; s->up && k <= SA_KEYING_UNKNOWN; k++) {
			const uint64_t *v = (const uint64_t *)((const char *)&s->by_keying[k] +
							       fam[f].off);

			sb_printf(b, "%s{keying=\"%s\"} %llu\n", fam[f].name,
				  sa_keying_name((enum sa_keying)k), (unsigned long long)*v);
		}
	}
}

void xfrmstats_render(struct sbuf *b, const struct audit_list *audit)
{
	struct xfrm_snap *s = calloc(1, sizeof(*s));
	char name[QKD_LINK_NAME_MAX * 2 + 1];
	size_t i;

	if (!s)
		return;		/* the rest of the scrape still goes out */
	collect(s, audit);
	help(b, "qkd_xfrm_up", "gauge",
	     "1 if the kernel's IPsec SAs were read at this scrape (0: no CAP_NET_ADMIN or no XFRM)");
	sb_printf(b, "qkd_xfrm_up %d\n", s->up);
	help(b, "qkd_xfrm_audit_up", "gauge",
	     "1 if the module's audit ring was read to tell the keying (0: every SA counts as unknown)");
	sb_printf(b, "qkd_xfrm_audit_up %d\n", s->audit_ok);
	render_keying(b, s);
	help(b, "qkd_xfrm_link_sas", "gauge", "QKD-keyed ESP/AH SAs now, by the link whose key keyed them");
	for (i = 0; i < s->nlinks; i++)
		sb_printf(b, "qkd_xfrm_link_sas{link=\"%s\"} %llu\n",
			  esc(s->links[i].name, name, sizeof(name)),
			  (unsigned long long)s->links[i].sas);
	if (s->other_link_sas)
		sb_printf(b, "qkd_xfrm_link_sas{link=\"(other)\"} %llu\n",
			  (unsigned long long)s->other_link_sas);
	free(s);
}
