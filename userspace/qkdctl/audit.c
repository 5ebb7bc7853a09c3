// SPDX-License-Identifier: GPL-2.0-only
/* qkdctl audit [show] [link NAME], qkdctl audit annotate */
#include "sakeying.h"

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
