/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TEST ONLY key source (make test-plugin, never installed): takes keys
 * from files instead of the kernel module, so the key exchange can be
 * exercised on a host without the module (e.g. with kernel-libipsec).
 *
 * charon.plugins.qkd.test_key_dir = DIR
 *   DIR/<link>/initiator/<32 hex digit ID>   raw key, taken oldest first
 *                                           (lowest file name)
 *   DIR/<link>/responder/<32 hex digit ID>   raw key, taken by ID
 *   DIR/<link>/reserved/<32 hex digit ID>    an initiator key reserved
 *                                           (moved there), taken by ID
 *                                           with QKD_KEYSRC_INITIATOR
 *   DIR/<link>/busy                          if present: -EBUSY
 *   DIR/<link>/audit.log                     takes, annotations, reserve,
 *                                           release and want lines appended
 * A missing DIR/<link> is -ENODEV.
 */
#include "qkd_keysrc.h"
#include "qkd_wire.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <library.h>
#include <utils/debug.h>

#ifndef QKD_TEST_KEYSRC
#error "qkd_keyfile.c is for the test build only"
#endif

void qkd_keysrc_wipe(struct qkd_key *key)
{
	if (key)
	{
		memwipe(key, sizeof(*key));
	}
}

const char *qkd_keysrc_name(void)
{
	return "FILES (TEST BUILD, NOT FOR PRODUCTION)";
}

static char *key_dir(void)
{
	return lib->settings->get_str(lib->settings,
						"%s.plugins.qkd.test_key_dir", NULL, lib->ns);
}

static void audit(const char *dir, const char *link, const char *line)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/audit.log", dir, link);
	f = fopen(path, "a");
	if (f)
	{
		fprintf(f, "%s\n", line);
		fclose(f);
	}
}

static int hex_id(const char *name, uint8_t id[QKD_KEYSRC_ID_LEN])
{
	unsigned int b;
	int i;

	if (strlen(name) != 2 * QKD_KEYSRC_ID_LEN)
	{
		return -1;
	}
	for (i = 0; i < QKD_KEYSRC_ID_LEN; i++)
	{
		if (sscanf(name + 2 * i, "%2x", &b) != 1)
		{
			return -1;
		}
		id[i] = b;
	}
	return 0;
}

/** claim a file by renaming it, then read and delete it */
static int claim(const char *path, struct qkd_key *key)
{
	char tmp[PATH_MAX];
	ssize_t len;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.taken.%d", path, getpid());
	if (rename(path, tmp) < 0)
	{
		return -errno;
	}
	fd = open(tmp, O_RDONLY);
	if (fd < 0)
	{
		unlink(tmp);
		return -EIO;
	}
	len = read(fd, key->material, sizeof(key->material) + 0);
	close(fd);
	unlink(tmp);
	if (len < 16 || len > QKD_KEYSRC_MAX_KEY_LEN)
	{
		return -EPROTO;
	}
	key->len = len;
	return 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int id_filter(const struct dirent *d)
{
	uint8_t id[QKD_KEYSRC_ID_LEN];

	return hex_id(d->d_name, id) == 0;
}

/** a responder key by ID (waiting up to wait_ms), or with
 * QKD_KEYSRC_INITIATOR our own reserved initiator key by ID */
static int take_by_id(const char *dir, const char *link, const uint8_t *id,
					  uint32_t wait_ms, unsigned int flags,
					  struct qkd_key *key)
{
	char path[PATH_MAX], hex[2 * QKD_KEYSRC_ID_LEN + 1];
	uint32_t waited = 0;
	int i, ret;

	for (i = 0; i < QKD_KEYSRC_ID_LEN; i++)
	{
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	}
	snprintf(path, sizeof(path), "%s/%s/%s/%s", dir, link,
			 (flags & QKD_KEYSRC_INITIATOR) ? "reserved" : "responder", hex);
	if (flags & QKD_KEYSRC_INITIATOR)
	{
		wait_ms = 0;
	}
	while (TRUE)
	{
		ret = claim(path, key);
		if (ret != -ENOENT || waited >= wait_ms)
		{
			break;
		}
		usleep(20000);
		waited += 20;
	}
	if (ret == -ENOENT && wait_ms)
	{
		ret = -ETIMEDOUT;
	}
	memcpy(key->id, id, QKD_KEYSRC_ID_LEN);
	key->role = (flags & QKD_KEYSRC_INITIATOR) ? 1 : 2;
	return ret;
}

int qkd_keysrc_take(const char *link, const uint8_t *id, uint32_t wait_ms,
					unsigned int flags, struct qkd_key *key,
					char err[QKD_KEYSRC_ERR_LEN])
{
	char path[PATH_MAX], idstr[37], line[128];
	struct dirent **names;
	struct stat st;
	char *dir = key_dir();
	int i, n, ret = -ENOENT;

	err[0] = '\0';
	memset(key, 0, sizeof(*key));
	if (!dir)
	{
		snprintf(err, QKD_KEYSRC_ERR_LEN, "test_key_dir not set");
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, link);
	if (stat(path, &st) < 0)
	{
		snprintf(err, QKD_KEYSRC_ERR_LEN, "no link '%s' in %s", link, dir);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "%s/%s/busy", dir, link);
	if (stat(path, &st) == 0)
	{
		snprintf(err, QKD_KEYSRC_ERR_LEN, "token bucket empty (test)");
		return -EBUSY;
	}
	if (!id)
	{
		snprintf(path, sizeof(path), "%s/%s/initiator", dir, link);
		n = scandir(path, &names, id_filter, name_cmp);
		for (i = 0; i < n; i++)
		{
			if (ret != 0)
			{
				snprintf(path, sizeof(path), "%s/%s/initiator/%s", dir, link,
						 names[i]->d_name);
				hex_id(names[i]->d_name, key->id);
				ret = claim(path, key);
			}
			free(names[i]);
		}
		if (n >= 0)
		{
			free(names);
		}
		if (ret)
		{
			ret = -ENOENT;
		}
		key->role = 1;
	}
	else
	{
		ret = take_by_id(dir, link, id, wait_ms, flags, key);
	}
	if (ret)
	{
		qkd_keysrc_wipe(key);
		return ret;
	}
	qkd_wire_id_str(key->id, idstr);
	snprintf(line, sizeof(line), "take %s %s pid %d", key->role == 2 ?
			 "responder" : "initiator", idstr, getpid());
	audit(dir, link, line);
	return 0;
}

int qkd_keysrc_annotate(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
						const uint32_t *spis, int nspis, const char *usage,
						char err[QKD_KEYSRC_ERR_LEN])
{
	char line[512], idstr[37];
	char *dir = key_dir();
	int i, pos;

	err[0] = '\0';
	if (!dir)
	{
		return -ENOENT;
	}
	qkd_wire_id_str(id, idstr);
	pos = snprintf(line, sizeof(line), "annotate %s spis", idstr);
	for (i = 0; i < nspis && i < 4; i++)
	{
		pos += snprintf(line + pos, sizeof(line) - pos, " %.8x", spis[i]);
	}
	snprintf(line + pos, sizeof(line) - pos, " usage %s", usage ?: "");
	audit(dir, link, line);
	return 0;
}

static void hex_of(const uint8_t id[QKD_KEYSRC_ID_LEN],
				   char hex[2 * QKD_KEYSRC_ID_LEN + 1])
{
	int i;

	for (i = 0; i < QKD_KEYSRC_ID_LEN; i++)
	{
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	}
}

/** the link's directory, or an error */
static int link_dir(const char *link, char *path, size_t len, char *err)
{
	struct stat st;
	char *dir = key_dir();

	err[0] = '\0';
	if (!dir)
	{
		snprintf(err, QKD_KEYSRC_ERR_LEN, "test_key_dir not set");
		return -ENOENT;
	}
	snprintf(path, len, "%s/%s", dir, link);
	if (stat(path, &st) < 0)
	{
		snprintf(err, QKD_KEYSRC_ERR_LEN, "no link '%s' in %s", link, dir);
		return -ENODEV;
	}
	return 0;
}

static void audit_id(const char *link, const char *what,
					 const uint8_t id[QKD_KEYSRC_ID_LEN])
{
	char line[128], idstr[37];

	qkd_wire_id_str(id, idstr);
	snprintf(line, sizeof(line), "%s %s pid %d", what, idstr, getpid());
	audit(key_dir(), link, line);
}

int qkd_keysrc_reserve(const char *link, uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN])
{
	char base[PATH_MAX], from[PATH_MAX + 64], to[PATH_MAX + 64];
	struct dirent **names;
	int i, n, ret;

	ret = link_dir(link, base, sizeof(base), err);
	if (ret)
	{
		return ret;
	}
	snprintf(from, sizeof(from), "%s/reserved", base);
	mkdir(from, 0700);
	snprintf(from, sizeof(from), "%s/initiator", base);
	n = scandir(from, &names, id_filter, name_cmp);
	ret = -ENOENT;
	for (i = 0; i < n; i++)
	{
		if (ret != 0)
		{
			snprintf(from, sizeof(from), "%s/initiator/%s", base,
					 names[i]->d_name);
			snprintf(to, sizeof(to), "%s/reserved/%s", base,
					 names[i]->d_name);
			if (rename(from, to) == 0)
			{
				hex_id(names[i]->d_name, id);
				ret = 0;
			}
		}
		free(names[i]);
	}
	if (n >= 0)
	{
		free(names);
	}
	if (ret == 0)
	{
		audit_id(link, "reserve", id);
	}
	return ret;
}

int qkd_keysrc_release(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					   char err[QKD_KEYSRC_ERR_LEN])
{
	char base[PATH_MAX], from[PATH_MAX + 64], to[PATH_MAX + 64];
	char hex[2 * QKD_KEYSRC_ID_LEN + 1];
	int ret;

	ret = link_dir(link, base, sizeof(base), err);
	if (ret)
	{
		return ret;
	}
	hex_of(id, hex);
	snprintf(from, sizeof(from), "%s/reserved/%s", base, hex);
	snprintf(to, sizeof(to), "%s/initiator/%s", base, hex);
	if (rename(from, to) < 0)
	{
		snprintf(err, QKD_KEYSRC_ERR_LEN, "no reserved initiator key of "
				 "that ID");
		return -ENOENT;
	}
	audit_id(link, "release", id);
	return 0;
}

int qkd_keysrc_want(const char *link, const uint8_t id[QKD_KEYSRC_ID_LEN],
					char err[QKD_KEYSRC_ERR_LEN])
{
	char base[PATH_MAX], path[PATH_MAX + 64];
	char hex[2 * QKD_KEYSRC_ID_LEN + 1];
	struct stat st;
	int ret;

	ret = link_dir(link, base, sizeof(base), err);
	if (ret)
	{
		return ret;
	}
	hex_of(id, hex);
	snprintf(path, sizeof(path), "%s/responder/%s", base, hex);
	if (stat(path, &st) == 0)
	{
		audit_id(link, "want held", id);
		return 0;
	}
	audit_id(link, "want missing", id);
	snprintf(err, QKD_KEYSRC_ERR_LEN, "key ID not held (test key files)");
	return -ENOENT;
}
