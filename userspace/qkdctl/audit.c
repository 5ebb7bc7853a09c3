// SPDX-License-Identifier: GPL-2.0-only
/* qkdctl audit [show] [link NAME], qkdctl audit annotate */
#include "audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "annotate.h"
#include "args.h"
#include "qkdctl.h"
#include "util.h"

static void audit_usage(FILE *out)
{
	fputs("Usage: qkdctl [-j [-p]] audit [show] [link NAME]\n"
	      "       qkdctl audit annotate NAME id UUID [spi SPI]... [usage TEXT]\n"
	      "  show: the module's record of every key taken (oldest first): sequence,\n"
	      "  time, link, key ID, role, taker (comm[pid]), SPIs keyed from it, usage.\n"
	      "  annotate: attach up to 4 SPIs and/or a usage note to the record of a\n"
	      "  taken key (what the strongSwan plugin does after installing SAs).\n", out);
}

void audit_record_from_lib(const struct qkd_audit_buf *b, struct audit_record *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = b->seq;
	r->time_ns = b->time_ns;
	copy_str(r->link, sizeof(r->link), b->link_name);
	r->has_key_id = b->present & (1ULL << QKD_AUDIT_A_KEY_ID);
	memcpy(r->key_id, b->key_id, QKD_KEY_ID_LEN);
	r->role = b->role;
	r->has_pid = b->present & (1ULL << QKD_AUDIT_A_PID);
	r->pid = b->pid;
	copy_str(r->comm, sizeof(r->comm), b->comm);
	r->n_spi = b->nr_spi < QKD_AUDIT_SPI_MAX ? b->nr_spi : QKD_AUDIT_SPI_MAX;
	memcpy(r->spi, b->spi, r->n_spi * sizeof(r->spi[0]));
	copy_str(r->usage, sizeof(r->usage), b->usage);
}

static int audit_append(const struct qkd_audit_buf *b, void *arg)
{
	struct audit_record r;

	audit_record_from_lib(b, &r);
	return audit_list_append(arg, &r) < 0 ? -ENOMEM : 0;
}

int audit_fetch(struct qkd_nl *nl, const char *name, struct audit_list *out)
{
	int n;

	memset(out, 0, sizeof(*out));
	n = qkd_audit_dump_each(nl, name, audit_append, out);
	if (n < 0) {
		audit_list_free(out);
		return n;
	}
	return 0;
}

static int audit_show_run(struct qkd_nl *nl, void *arg)
{
	const struct audit_args *a = arg;
	struct audit_list l;
	size_t i;
	int ret = audit_fetch(nl, a->has_name ? a->name : NULL, &l);

	if (ret)
		return ret;
	if (opts.json) {
		json_t *arr = json_array();

		for (i = 0; i < l.count; i++)
			json_array_append_new(arr, audit_record_to_json(&l.rec[i]));
		json_emit(arr);
	} else {
		for (i = 0; i < l.count; i++)
			audit_record_print(stdout, &l.rec[i]);
	}
	audit_list_free(&l);
	return 0;
}

static int audit_annotate_run(struct qkd_nl *nl, void *arg)
{
	const struct annotate_args *a = arg;

	return qkd_audit_annotate(nl, a->name, a->id, a->spi, a->n_spi,
				  a->has_usage ? a->usage : NULL);
}

int cmd_audit(int argc, char **argv)
{
	struct annotate_args ann;
	struct audit_args show;
	char err[256], what[64];
	int ret;

	if (argc > 0 && !strcmp(argv[0], "annotate")) {
		ret = args_audit_annotate(argc - 1, argv + 1, &ann, err, sizeof(err));
		if (ret != ARGS_OK)
			return args_exit(ret, "audit annotate", err, audit_usage);
		snprintf(what, sizeof(what), "audit annotate %s", ann.name);
		return qkd_run(what, audit_annotate_run, &ann);
	}
	if (argc > 0 && (!strcmp(argv[0], "show") || !strcmp(argv[0], "list"))) {
		argc--;
		argv++;
	}
	ret = args_audit_show(argc, argv, &show, err, sizeof(err));
	if (ret != ARGS_OK)
		return args_exit(ret, "audit", err, audit_usage);
	snprintf(what, sizeof(what), "audit%s%s", show.has_name ? " link " : "", show.name);
	return qkd_run(what, audit_show_run, &show);
}
