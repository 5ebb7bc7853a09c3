// SPDX-License-Identifier: GPL-2.0
/*
 * Memory oracles of qkd_nlfuzz: what the module leaves behind.
 *
 *  - kmalloc_bytes: active objects times object size of the kmalloc-*
 *    caches in /proc/slabinfo (the module's links, hash tables, pending
 *    takes, staging buffers and sysctl tables come from there);
 *  - qkd_caches: caches named qkd_* (key and spent-ID caches; gone after
 *    unload, or kmem_cache_destroy() found objects left);
 *  - qkd_objects: live objects whose allocation trace (slub_debug=U,
 *    /sys/kernel/debug/slab/<cache>/alloc_traces) runs through qkd code,
 *    exact where kmalloc totals are noisy;
 *  - stale_objects: live objects whose trace holds an address no symbol
 *    covers in module space: allocated by the code of a module that has
 *    since been unloaded, i.e. leaked across an rmmod;
 *  - qkd_vmaps: vmalloc areas (kvmalloc of big tables) owned by qkd.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlfuzz.h"

#define TRACES	"/sys/kernel/debug/slab"

static void read_slabinfo(struct fz_mem *m)
{
	char line[512], name[128];
	long long active, total, size;
	FILE *f = fopen("/proc/slabinfo", "r");

	m->kmalloc_bytes = -1;
	if (!f)
		return;
	m->kmalloc_bytes = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %lld %lld %lld", name, &active, &total,
			   &size) != 4)
			continue;
		if (!strncmp(name, "qkd_", 4))
			m->qkd_caches++;
		if (strstr(name, "kmalloc-"))
			m->kmalloc_bytes += active * size;
	}
	fclose(f);
}

/* Raw code address in module space: a module no longer loaded. */
static bool stale_addr(const char *line)
{
	return strstr(line, "0xffffffffc") != NULL;
}

/*
 * Allocator frames to look through: the object belongs to the first
 * frame that is not one of these.  (Objects that the kernel allocates on
 * a module's behalf, such as the sysfs and debugfs nodes of a cache it
 * creates, belong to the kernel code that allocates them.)
 */
static bool allocator_frame(const char *line)
{
	static const char *const names[] = {
		"kmalloc", "__kmalloc", "kvmalloc", "__kvmalloc", "kmem_cache_alloc",
		"__kmem_cache_alloc", "kzalloc", "kcalloc", "kvzalloc", "krealloc",
		"kmalloc_trace", "kmalloc_node", "slab_", "__slab", "___slab",
		"set_track", "stack_trace", "alloc_debug",
	};
	size_t i;

	while (*line == ' ' || (*line >= '0' && *line <= '9'))
		line++;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(line, names[i], strlen(names[i])))
			return true;
	return false;
}

struct fz_trace {
	long count;
	bool decided, qkd, stale;
	char first[512];
};

static void end_trace(struct fz_mem *m, const char *cache, struct fz_trace *t)
{
	if (!strncmp(cache, "qkd_", 4))
		t->qkd = true;
	if ((t->qkd || t->stale) && t->count && getenv("QKD_NLFUZZ_MEMDEBUG"))
		fprintf(stderr, "nlfuzz: mem: %s %s %ld: %s", cache,
			t->qkd ? "qkd" : "stale", t->count, t->first);
	if (t->qkd)
		m->qkd_objects += t->count;
	if (t->stale)
		m->stale_objects += t->count;
}

static void trace_line(struct fz_trace *t, const char *line)
{
	if (t->decided || allocator_frame(line))
		return;
	t->decided = true;
	t->qkd = strstr(line, "[qkd]") != NULL;
	t->stale = stale_addr(line);
	snprintf(t->first, sizeof(t->first), "%s", line);
}

static void read_traces(struct fz_mem *m, const char *cache)
{
	struct fz_trace t = { 0 };
	char path[512], line[512];
	long c;
	FILE *f;

	snprintf(path, sizeof(path), TRACES "/%s/alloc_traces", cache);
	f = fopen(path, "r");
	if (!f)
		return;
	/* "  COUNT function+off/size [mod] age=..." then indented stack lines */
	while (fgets(line, sizeof(line), f)) {
		char *end;

		c = strtol(line, &end, 10);
		if (end != line && *end == ' ') {
			end_trace(m, cache, &t);
			memset(&t, 0, sizeof(t));
			t.count = c;
		}
		trace_line(&t, line);
	}
	end_trace(m, cache, &t);
	fclose(f);
}

static void read_vmalloc(struct fz_mem *m)
{
	FILE *f = fopen("/proc/vmallocinfo", "r");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[qkd]"))
			m->qkd_vmaps++;
	fclose(f);
}

void fz_mem_read(struct fz_mem *m, bool traces)
{
	struct dirent *e;
	DIR *d;

	memset(m, 0, sizeof(*m));
	read_slabinfo(m);
	read_vmalloc(m);
	if (!traces)
		return;
	d = opendir(TRACES);
	if (!d)
		return;
	m->traces = true;
	/*
	 * The module allocates from kmalloc and its own caches only; reading
	 * the traces of a cache walks all its objects, slow under TCG.
	 */
	while ((e = readdir(d)))
		if (strstr(e->d_name, "kmalloc") || !strncmp(e->d_name, "qkd_", 4))
			read_traces(m, e->d_name);
	closedir(d);
}
