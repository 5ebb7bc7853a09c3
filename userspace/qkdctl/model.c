// SPDX-License-Identifier: GPL-2.0-only
#include "model.h"

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
