/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Output views of the SA keying (the rule itself: sakeying.h in
 * userspace/common, shared with the agent's metrics).
 */
#ifndef QKDCTL_ANNOTATE_H
#define QKDCTL_ANNOTATE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sakeying.h"

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
