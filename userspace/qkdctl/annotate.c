// SPDX-License-Identifier: GPL-2.0-only
#include "annotate.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/xfrm.h>

#include "util.h"

const char *xfrm_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_ESP:
		return "esp";
	case IPPROTO_AH:
		return "ah";
	case IPPROTO_COMP:
		return "comp";
	default:
		return "unknown";
	}
}

const char *xfrm_mode_name(uint8_t mode)
{
	switch (mode) {
	case XFRM_MODE_TRANSPORT:
		return "transport";
	case XFRM_MODE_TUNNEL:
		return "tunnel";
	case XFRM_MODE_ROUTEOPTIMIZATION:
		return "ro";
	case XFRM_MODE_IN_TRIGGER:
		return "in_trigger";
	case XFRM_MODE_BEET:
		return "beet";
	default:
		return "unknown";
	}
}

void sa_addr_format(int family, const uint8_t *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
}

static void spi_format(uint32_t spi, char *buf, size_t len)
{
	snprintf(buf, len, "0x%08" PRIx32, spi);
}

/* jansson integers are signed 64-bit; counters never get near 2^63. */
static json_t *json_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

json_t *audit_record_to_json(const struct audit_record *r)
{
	char buf[64];
	json_t *o = json_object(), *spis = json_array();
	unsigned int i;

	json_object_set_new(o, "seq", json_u64(r->seq));
	json_object_set_new(o, "time_ns", json_u64(r->time_ns));
	format_time_ns(r->time_ns, buf, sizeof(buf));
	json_object_set_new(o, "time", json_string(buf));
	json_object_set_new(o, "link", json_string(r->link));
	if (r->has_key_id) {
		uuid_format(r->key_id, buf);
		json_object_set_new(o, "key_id", json_string(buf));
	} else {
		json_object_set_new(o, "key_id", json_null());
	}
	json_object_set_new(o, "role", json_string(role_label(r->role)));
	json_object_set_new(o, "pid", r->has_pid ? json_u64(r->pid) : json_null());
	json_object_set_new(o, "comm", json_string(r->comm));
	for (i = 0; i < r->n_spi && i < QKD_AUDIT_SPI_MAX; i++) {
		spi_format(r->spi[i], buf, sizeof(buf));
		json_array_append_new(spis, json_string(buf));
	}
	json_object_set_new(o, "spis", spis);
	json_object_set_new(o, "usage", json_string(r->usage));
	return o;
}

static json_t *alg_to_json(const struct sa_alg *a, const char *icv_name)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(a->name));
	json_object_set_new(o, "key_bits", json_u64(a->key_bits));
	if (icv_name)
		json_object_set_new(o, icv_name, json_u64(a->icv_bits));
	return o;
}

static uint64_t sa_age(const struct sa_info *sa, uint64_t now)
{
	return sa->add_time && now > sa->add_time ? now - sa->add_time : 0;
}

json_t *sa_to_json(const struct sa_info *sa, const struct sa_annotation *an,
		   uint64_t now)
{
	char buf[INET6_ADDRSTRLEN + 8];
	json_t *o = json_object();

	sa_addr_format(sa->family, sa->saddr, buf, sizeof(buf));
	json_object_set_new(o, "src", json_string(buf));
	sa_addr_format(sa->family, sa->daddr, buf, sizeof(buf));
	json_object_set_new(o, "dst", json_string(buf));
	json_object_set_new(o, "proto", json_string(xfrm_proto_name(sa->proto)));
	spi_format(sa->spi, buf, sizeof(buf));
	json_object_set_new(o, "spi", json_string(buf));
	json_object_set_new(o, "reqid", json_u64(sa->reqid));
	json_object_set_new(o, "mode", json_string(xfrm_mode_name(sa->mode)));
	if (sa->aead.name[0])
		json_object_set_new(o, "aead", alg_to_json(&sa->aead, "icv_bits"));
	if (sa->enc.name[0])
		json_object_set_new(o, "enc", alg_to_json(&sa->enc, NULL));
	if (sa->auth.name[0])
		json_object_set_new(o, "auth", alg_to_json(&sa->auth, "trunc_bits"));
	if (sa->comp.name[0])
		json_object_set_new(o, "comp", alg_to_json(&sa->comp, NULL));
	json_object_set_new(o, "bytes", json_u64(sa->bytes));
	json_object_set_new(o, "packets", json_u64(sa->packets));
	json_object_set_new(o, "add_time", json_u64(sa->add_time));
	json_object_set_new(o, "age_s", json_u64(sa_age(sa, now)));
	json_object_set_new(o, "keying", json_string(sa_keying_name(an->keying)));
	if (an->keying == SA_KEYING_QKD && an->rec) {
		const struct audit_record *r = an->rec;
		json_t *q = json_object();

		json_object_set_new(q, "link", json_string(r->link));
		if (r->has_key_id) {
			uuid_format(r->key_id, buf);
			json_object_set_new(q, "key_id", json_string(buf));
		} else {
			json_object_set_new(q, "key_id", json_null());
		}
		json_object_set_new(q, "role", json_string(role_label(r->role)));
		json_object_set_new(q, "audit_seq", json_u64(r->seq));
		json_object_set_new(q, "taken_ns", json_u64(r->time_ns));
		json_object_set_new(q, "comm", json_string(r->comm));
		json_object_set_new(q, "pid", r->has_pid ? json_u64(r->pid) : json_null());
		json_object_set_new(o, "qkd", q);
	} else {
		json_object_set_new(o, "qkd", json_null());
	}
	return o;
}

json_t *sa_list_to_json(const struct sa_list *sas, const struct audit_list *audit,
			uint64_t now)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sas->count; i++) {
		struct sa_annotation an = annotate_sa(&sas->sa[i], audit);

		json_array_append_new(a, sa_to_json(&sas->sa[i], &an, now));
	}
	return a;
}

void audit_record_print(FILE *out, const struct audit_record *r)
{
	char t[64], id[UUID_STR_LEN + 1] = "-", spi[16];
	unsigned int i;

	format_time_ns(r->time_ns, t, sizeof(t));
	if (r->has_key_id)
		uuid_format(r->key_id, id);
	fprintf(out, "%" PRIu64 " %s link %s key %s role %s", r->seq, t, r->link,
		id, role_label(r->role));
	if (r->has_pid)
		fprintf(out, " by %s[%" PRIu32 "]", r->comm[0] ? r->comm : "?", r->pid);
	for (i = 0; i < r->n_spi && i < QKD_AUDIT_SPI_MAX; i++) {
		spi_format(r->spi[i], spi, sizeof(spi));
		fprintf(out, "%s%s", i ? "," : " spi ", spi);
	}
	if (r->usage[0])
		fprintf(out, " usage \"%s\"", r->usage);
	fputc('\n', out);
}

void sa_print(FILE *out, const struct sa_info *sa,
	      const struct sa_annotation *an, uint64_t now)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], age[32], spi[16];

	sa_addr_format(sa->family, sa->saddr, src, sizeof(src));
	sa_addr_format(sa->family, sa->daddr, dst, sizeof(dst));
	spi_format(sa->spi, spi, sizeof(spi));
	format_age(sa_age(sa, now), age, sizeof(age));

	fprintf(out, "src %s dst %s\n", src, dst);
	fprintf(out, "\tproto %s spi %s reqid %" PRIu32 " mode %s\n",
		xfrm_proto_name(sa->proto), spi, sa->reqid, xfrm_mode_name(sa->mode));
	/* Algorithm names and sizes only: SA keys are never printed. */
	if (sa->aead.name[0])
		fprintf(out, "\taead %s %" PRIu32 " icv %" PRIu32 "\n",
			sa->aead.name, sa->aead.key_bits, sa->aead.icv_bits);
	if (sa->enc.name[0])
		fprintf(out, "\tenc %s %" PRIu32 "\n", sa->enc.name, sa->enc.key_bits);
	if (sa->auth.name[0])
		fprintf(out, "\tauth-trunc %s %" PRIu32 " %" PRIu32 "\n",
			sa->auth.name, sa->auth.key_bits, sa->auth.icv_bits);
	if (sa->comp.name[0])
		fprintf(out, "\tcomp %s\n", sa->comp.name);
	fprintf(out, "\tlifetime current: %" PRIu64 "(bytes), %" PRIu64 "(packets) age %s\n",
		sa->bytes, sa->packets, age);
	if (an->keying == SA_KEYING_QKD && an->rec) {
		char id[UUID_STR_LEN + 1] = "-", t[64];

		if (an->rec->has_key_id)
			uuid_format(an->rec->key_id, id);
		format_time_ns(an->rec->time_ns, t, sizeof(t));
		fprintf(out, "\tkeying qkd link %s key %s role %s (audit %" PRIu64 ", taken %s)\n",
			an->rec->link, id, role_label(an->rec->role), an->rec->seq, t);
	} else if (an->keying == SA_KEYING_UNKNOWN) {
		fprintf(out, "\tkeying unknown (no QKD audit record available for this SA)\n");
	} else {
		fprintf(out, "\tkeying classical (not QKD-keyed)\n");
	}
}

void sa_list_print(FILE *out, const struct sa_list *sas,
		   const struct audit_list *audit, uint64_t now)
{
	size_t i, n[3] = { 0, 0, 0 };

	for (i = 0; i < sas->count; i++) {
		struct sa_annotation an = annotate_sa(&sas->sa[i], audit);

		sa_print(out, &sas->sa[i], &an, now);
		n[an.keying]++;
	}
	/* The one-glance answer: is traffic quantum-keyed right now? */
	fprintf(out, "%zu SA%s: %zu qkd, %zu classical, %zu unknown\n",
		sas->count, sas->count == 1 ? "" : "s",
		n[SA_KEYING_QKD], n[SA_KEYING_CLASSICAL], n[SA_KEYING_UNKNOWN]);
}
