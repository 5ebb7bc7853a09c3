// SPDX-License-Identifier: GPL-2.0-only
#include "sakeying.h"

#include <errno.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

static int grow(void **v, size_t *cap, size_t count, size_t size)
{
	size_t ncap;
	void *n;

	if (count < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	n = realloc(*v, ncap * size);
	if (!n)
		return -1;
	*v = n;
	*cap = ncap;
	return 0;
}

int audit_list_append(struct audit_list *l, const struct audit_record *r)
{
	if (grow((void **)&l->rec, &l->cap, l->count, sizeof(*r)) < 0)
		return -1;
	l->rec[l->count++] = *r;
	return 0;
}

void audit_list_free(struct audit_list *l)
{
	free(l->rec);
	memset(l, 0, sizeof(*l));
}

int sa_list_append(struct sa_list *l, const struct sa_info *sa)
{
	if (grow((void **)&l->sa, &l->cap, l->count, sizeof(*sa)) < 0)
		return -1;
	l->sa[l->count++] = *sa;
	return 0;
}

void sa_list_free(struct sa_list *l)
{
	free(l->sa);
	memset(l, 0, sizeof(*l));
}

static bool record_has_spi(const struct audit_record *r, uint32_t spi)
{
	unsigned int i;

	for (i = 0; i < r->n_spi && i < QKD_AUDIT_SPI_MAX; i++)
		if (r->spi[i] == spi)
			return true;
	return false;
}

struct sa_annotation annotate_sa(const struct sa_info *sa,
				 const struct audit_list *audit)
{
	struct sa_annotation an = { .keying = SA_KEYING_CLASSICAL, .rec = NULL };
	uint64_t latest_ok_ns;
	size_t i;

	if (!audit) {
		an.keying = SA_KEYING_UNKNOWN;
		return an;
	}
	latest_ok_ns = (sa->add_time + ANNOTATE_CLOCK_SLACK_S) * 1000000000ULL;
	for (i = 0; i < audit->count; i++) {
		const struct audit_record *r = &audit->rec[i];

		if (!record_has_spi(r, sa->spi))
			continue;
		if (sa->add_time && r->time_ns > latest_ok_ns)
			continue;	/* taken after the SA existed: SPI reuse */
		if (!an.rec || r->seq > an.rec->seq)
			an.rec = r;
	}
	if (an.rec) {
		an.keying = SA_KEYING_QKD;
		return an;
	}
	/* Sequence numbers start at 1: a higher first one means older
	 * records were overwritten, and this SA's may have been one. */
	if (audit->count && audit->rec[0].seq > 1 &&
	    audit->rec[0].time_ns / 1000000000ULL > sa->add_time)
		an.keying = SA_KEYING_UNKNOWN;
	return an;
}

const char *sa_keying_name(enum sa_keying k)
{
	switch (k) {
	case SA_KEYING_QKD:
		return "qkd";
	case SA_KEYING_CLASSICAL:
		return "classical";
	default:
		return "unknown";
	}
}

/* The kernel's strings are NUL-terminated within their bounds (libqkd
 * checks); snprintf also truncates what would not fit. */
static void copy_name(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

void audit_record_from_lib(const struct qkd_audit_buf *b, struct audit_record *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = b->seq;
	r->time_ns = b->time_ns;
	copy_name(r->link, sizeof(r->link), b->link_name);
	r->has_key_id = b->present & (1ULL << QKD_AUDIT_A_KEY_ID);
	memcpy(r->key_id, b->key_id, QKD_KEY_ID_LEN);
	r->role = b->role;
	r->has_pid = b->present & (1ULL << QKD_AUDIT_A_PID);
	r->pid = b->pid;
	copy_name(r->comm, sizeof(r->comm), b->comm);
	r->n_spi = b->nr_spi < QKD_AUDIT_SPI_MAX ? b->nr_spi : QKD_AUDIT_SPI_MAX;
	memcpy(r->spi, b->spi, r->n_spi * sizeof(r->spi[0]));
	copy_name(r->usage, sizeof(r->usage), b->usage);
}

int audit_list_add_lib(const struct qkd_audit_buf *b, void *arg)
{
	struct audit_record r;

	audit_record_from_lib(b, &r);
	return audit_list_append(arg, &r) < 0 ? -ENOMEM : 0;
}

int audit_fetch(struct qkd_nl *nl, const char *name, struct audit_list *out)
{
	int n;

	memset(out, 0, sizeof(*out));
	n = qkd_audit_dump_each(nl, name, audit_list_add_lib, out);
	if (n < 0) {
		audit_list_free(out);
		return n;
	}
	return 0;
}
