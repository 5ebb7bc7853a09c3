// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libqkd: dumps (links, audit records), one record at a time to the
 * caller's function, or into the caller's array.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

int qkd_nl_dump_item(const struct nlmsghdr *nlh, void *arg)
{
	struct qkd_dump_ctx *ctx = arg;
	int ret = ctx->parse_one(nlh, ctx->item);

	if (ret)
		return ret;
	ctx->n++;
	/* the caller's refusal stops the calls; the dump is still drained */
	return ctx->each(ctx->item, ctx->arg);
}

int qkd_dump_to_array(const void *item, void *arg)
{
	struct qkd_dump_array *a = arg;

	if (a->n < a->max)	/* the rest is counted, not stored */
		memcpy((char *)a->items + (size_t)a->n * a->item_size, item,
		       a->item_size);
	a->n++;
	return 0;
}
