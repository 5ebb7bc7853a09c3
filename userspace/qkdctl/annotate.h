/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which QKD key (if any) an IPsec SA was keyed from.
 *
 * The strongSwan plugin annotates each audit (take) record with the SPIs of
 * the child SAs it keyed (QKD_CMD_AUDIT_ANNOTATE).  So an SA is QKD-keyed
 * when an audit record lists its SPI.  Rules, in order:
 *
 *  1. Candidates are the records whose SPI list contains the SA's SPI.
 *  2. A record taken clearly after the SA was added cannot have keyed it
 *     (the SPI was reused by a later SA): skip records whose take time is
 *     more than ANNOTATE_CLOCK_SLACK_S after the SA's add_time (add_time has
 *     one-second resolution).
 *  3. Of the rest the newest (highest seq) wins: SPIs are random, so an
 *     older record naming the same SPI belongs to an earlier, gone SA.
 *  4. No candidate: "classical", unless the record may be gone: the
 *     module's audit ring overwrote records (its oldest record's seq is
 *     above 1, seqs start at 1) and the oldest kept is newer than the SA;
 *     or the audit could not be read at all.  Then "unknown".  qkdctl never
 *     claims a keying it cannot show, either way.
 *
 * SPIs are compared as host-order numbers, as `ip xfrm state` prints them
 * and as the strongSwan plugin records them (ntohl of strongSwan's SPI).
 */
#ifndef QKDCTL_ANNOTATE_H
#define QKDCTL_ANNOTATE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "model.h"

#define ANNOTATE_CLOCK_SLACK_S	2

enum sa_keying {
	SA_KEYING_CLASSICAL,
	SA_KEYING_QKD,
	SA_KEYING_UNKNOWN,
};

struct sa_annotation {
	enum sa_keying keying;
	const struct audit_record *rec;	/* when keying == SA_KEYING_QKD */
};

/* audit may be NULL: the module's audit was not available. */
struct sa_annotation annotate_sa(const struct sa_info *sa,
				 const struct audit_list *audit);

const char *sa_keying_name(enum sa_keying k);

/* JSON views; the caller owns the result. now is for the SA's age. */
json_t *audit_record_to_json(const struct audit_record *r);
json_t *sa_to_json(const struct sa_info *sa, const struct sa_annotation *an,
		   uint64_t now);
/* The whole `qkdctl -j xfrm` answer: an array of sa_to_json objects. */
json_t *sa_list_to_json(const struct sa_list *sas, const struct audit_list *audit,
			uint64_t now);

/* Text views in the style of `ip xfrm state`. */
void audit_record_print(FILE *out, const struct audit_record *r);
void sa_print(FILE *out, const struct sa_info *sa,
	      const struct sa_annotation *an, uint64_t now);
void sa_list_print(FILE *out, const struct sa_list *sas,
		   const struct audit_list *audit, uint64_t now);

/* Names for the text and JSON output. */
const char *xfrm_proto_name(uint8_t proto);
const char *xfrm_mode_name(uint8_t mode);
void sa_addr_format(int family, const uint8_t *addr, char *buf, size_t len);

#endif
