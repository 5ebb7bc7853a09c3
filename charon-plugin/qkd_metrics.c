/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qkd_metrics.h"
#include "qkd_peer.h"
#include "qkd_keysrc.h"
#include "qkd_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <library.h>
#include <daemon.h>
#include <processing/jobs/callback_job.h>
#include <threading/mutex.h>

#define METRICS_DEFAULT_PATH	"/run/qkd/charon-plugin.prom"
#define METRICS_WRITE_DELAY_MS	1000

typedef struct private_qkd_metrics_t private_qkd_metrics_t;

struct private_qkd_metrics_t {

	/** public interface */
	qkd_metrics_t public;

	/** serializes writes (job and reload) and the path */
	mutex_t *mutex;

	/** the file, NULL when off */
	char *path;

	/** a write job is scheduled */
	bool scheduled;

	/** the last write failed (logged once until one succeeds) */
	bool failing;

	/** when the plugin was loaded (s since the epoch) */
	time_t started;
};

/** the one writer, for qkd_metrics_changed() */
static private_qkd_metrics_t *instance;

/** one counter family: HELP text and the counters with their labels */
typedef struct {
	const char *name;
	const char *help;
	const char *label;
	struct {
		const char *value;
		enum qkd_counter counter;
	} v[7];
} family_t;

static const family_t families[] = {
	{ "qkd_plugin_keys_taken_total", "QKD keys this charon took from the module, by the "
	  "role of its side in the exchange", "role",
	  { { "initiator", QKD_CNT_TAKEN_INIT }, { "responder", QKD_CNT_TAKEN_RESP } } },
	{ "qkd_plugin_fallbacks_total", "qkd key exchanges that fell back to X25519 alone "
	  "(prefer: no key, or a peer without QKD)", NULL, { { NULL, QKD_CNT_FALLBACK } } },
	{ "qkd_plugin_refused_total", "qkd key exchanges refused (require, or a peer that did "
	  "not announce the plugin)", NULL, { { NULL, QKD_CNT_REFUSED } } },
	{ "qkd_plugin_confirmation_failures_total", "key confirmation failures (the peers "
	  "hold different keys for one ID: the ALARM line names it)", NULL,
	  { { NULL, QKD_CNT_CONFIRM_FAIL } } },
	{ "qkd_plugin_classical_child_sas_total", "CHILD_SAs installed without a QKD key "
	  "under prefer (IKE_AUTH child, peer without the plugin, fallback)", NULL,
	  { { NULL, QKD_CNT_CLASSICAL } } },
	{ "qkd_plugin_child_sas_refused_total", "CHILD_SAs refused because the policy is "
	  "require and no QKD key keyed them (the old SA stays)", NULL,
	  { { NULL, QKD_CNT_CHILD_REFUSED } } },
	{ "qkd_plugin_next_key_ids_total", "pre-announced next key IDs: reserved, taken as "
	  "announced, gone before use, released, peer's asked for ahead, peer used its "
	  "announced key or another", "event",
	  { { "reserved", QKD_CNT_RESERVED }, { "taken", QKD_CNT_RESERVED_TAKEN },
	    { "gone", QKD_CNT_RESERVED_GONE }, { "released", QKD_CNT_RESERVE_RELEASED },
	    { "peer_wanted", QKD_CNT_WANTED }, { "peer_used", QKD_CNT_PEER_NEXT_USED },
	    { "peer_other", QKD_CNT_PEER_NEXT_OTHER } } },
};

/** the file's text into buf; FALSE if it did not fit */
static bool render(private_qkd_metrics_t *this, char *buf, size_t len)
{
	size_t off = 0, f, i;
	int n;

#define OUT(...) do { \
		n = snprintf(buf + off, len - off, __VA_ARGS__); \
		if (n < 0 || (size_t)n >= len - off) return FALSE; \
		off += n; \
	} while (0)
	OUT("# HELP qkd_plugin_info the qkd plugin of this charon: strongSwan version, "
		"protocol version, key source\n# TYPE qkd_plugin_info gauge\n"
		"qkd_plugin_info{strongswan=\"%s\",protocol=\"%d\",keys=\"%s\"} 1\n",
		VERSION, QKD_ANNOUNCE_VERSION, qkd_keysrc_name());
	OUT("# HELP qkd_plugin_start_time_seconds when the plugin was loaded (counters "
		"start at 0 then)\n# TYPE qkd_plugin_start_time_seconds gauge\n"
		"qkd_plugin_start_time_seconds %lld\n", (long long)this->started);
	for (f = 0; f < countof(families); f++)
	{
		const family_t *fam = &families[f];

		OUT("# HELP %s %s\n# TYPE %s counter\n", fam->name, fam->help, fam->name);
		for (i = 0; i < countof(fam->v) && (i == 0 || fam->v[i].value); i++)
		{
			if (fam->label)
			{
				OUT("%s{%s=\"%s\"} %u\n", fam->name, fam->label, fam->v[i].value,
					qkd_counter(fam->v[i].counter));
			}
			else
			{
				OUT("%s %u\n", fam->name, qkd_counter(fam->v[i].counter));
			}
		}
	}
#undef OUT
	return TRUE;
}

/** the directory of path, if missing (one level: /run exists) */
static int make_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int err = 0;

	slash = dir ? strrchr(dir, '/') : NULL;
	if (slash && slash != dir)
	{
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		{
			err = errno;
		}
	}
	free(dir);
	return err;
}

/** write to a temporary name in the same directory, then rename; 0 or
 * an errno */
static int write_tmp_rename(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd, n, err;

	err = make_dir(path);
	if (err)
	{
		return err;
	}
	n = snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
	{
		return ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
	{
		return errno;
	}
	/* a short write without errno must not be renamed into place */
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0)
	{
		err = errno ? errno : EIO;
	}
	if (close(fd) < 0 && !err)
	{
		err = errno;
	}
	if (!err && rename(tmp, path) < 0)
	{
		err = errno;
	}
	if (err)
	{
		unlink(tmp);
	}
	return err;
}

/** render and write; one log line when writing starts failing, not one
 * per count */
static void write_file(private_qkd_metrics_t *this, const char *path)
{
	char buf[4096];
	int err;

	if (!render(this, buf, sizeof(buf)))
	{
		err = EMSGSIZE;
	}
	else
	{
		errno = 0;
		err = write_tmp_rename(path, buf);
	}
	if (err && !this->failing)
	{
		DBG1(DBG_CFG, "qkd: cannot write the metrics file %s: %s (logged "
			 "once until a write succeeds)", path, strerror(err));
	}
	this->failing = err != 0;
}

METHOD(qkd_metrics_t, write_, void,
	private_qkd_metrics_t *this)
{
	char *path;

	this->mutex->lock(this->mutex);
	path = lib->settings->get_str(lib->settings, "%s.plugins.qkd.metrics_file",
								  METRICS_DEFAULT_PATH, lib->ns);
	if (this->path && (!path || !streq(path, this->path)))
	{	/* moved or turned off: the old file would go stale */
		unlink(this->path);
	}
	free(this->path);
	this->path = (path && *path) ? strdup(path) : NULL;
	if (this->path)
	{
		write_file(this, this->path);
	}
	this->mutex->unlock(this->mutex);
}

static job_requeue_t write_job(private_qkd_metrics_t *this)
{
	/* clear first: a change during the write schedules another one */
	this->scheduled = FALSE;
	this->mutex->lock(this->mutex);
	if (this->path)
	{
		write_file(this, this->path);
	}
	this->mutex->unlock(this->mutex);
	return JOB_REQUEUE_NONE;
}

void qkd_metrics_changed(void)
{
	private_qkd_metrics_t *this = instance;

	if (!this || !cas_bool(&this->scheduled, FALSE, TRUE))
	{
		return;
	}
	lib->scheduler->schedule_job_ms(lib->scheduler,
			(job_t*)callback_job_create_with_prio((callback_job_cb_t)write_job,
									this, NULL, NULL, JOB_PRIO_LOW),
			METRICS_WRITE_DELAY_MS);
}

METHOD(qkd_metrics_t, destroy, void,
	private_qkd_metrics_t *this)
{
	/* charon flushes the scheduler before it unloads plugins: no write
	 * job can run after this */
	instance = NULL;
	if (this->path)
	{
		unlink(this->path);
	}
	free(this->path);
	this->mutex->destroy(this->mutex);
	free(this);
}

/*
 * Described in header
 */
qkd_metrics_t *qkd_metrics_create(void)
{
	private_qkd_metrics_t *this;

	INIT(this,
		.public = {
			.write = _write_,
			.destroy = _destroy,
		},
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.started = time(NULL),
	);
	_write_(this);
	instance = this;
	return &this->public;
}
