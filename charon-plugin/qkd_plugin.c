/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qkd_plugin.h"
#include "qkd_ke.h"
#include "qkd_keysrc.h"
#include "qkd_links.h"
#include "qkd_listener.h"
#include "qkd_method.h"
#include "qkd_metrics.h"
#include "qkd_peer.h"

#include <ctype.h>
#include <fcntl.h>
#include <unistd.h>

#include <daemon.h>

#ifndef VERSION
#error "build with strongSwan's config.h (-include config.h)"
#endif

#ifdef QKD_TEST_BUILT_VERSION	/* only to test the refusal */
#define QKD_BUILT_VERSION QKD_TEST_BUILT_VERSION
#else
#define QKD_BUILT_VERSION VERSION
#endif

typedef struct private_qkd_plugin_t private_qkd_plugin_t;

struct private_qkd_plugin_t {

	/** public interface */
	qkd_plugin_t public;

	/** link configuration */
	qkd_links_t *links;

	/** bus listener */
	qkd_listener_t *listener;

	/** the counters' metrics file */
	qkd_metrics_t *metrics;
};

/**
 * libstrongswan and libcharon carry no version string at runtime; every
 * charon daemon binary (charon, charon-systemd, charon-cmd, charon-nm)
 * embeds "(strongSwan <VERSION>," in its start-up banner.  Read it from
 * the running executable.
 */
bool qkd_plugin_version_matches(char *running, size_t len)
{
	static const char needle[] = "(strongSwan ";
	char buf[65536 + sizeof(needle) + 32];
	size_t keep = 0, n, i;
	ssize_t got;
	char *pos, *end;
	int fd;

	running[0] = '\0';
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		return FALSE;
	}
	while (!running[0])
	{
		got = read(fd, buf + keep, sizeof(buf) - keep - 1);
		if (got <= 0)
		{
			break;
		}
		n = keep + got;
		buf[n] = '\0';
		pos = buf;
		while ((pos = memmem(pos, n - (pos - buf), needle,
							 sizeof(needle) - 1)))
		{
			pos += sizeof(needle) - 1;
			end = pos;
			while (end < buf + n && (isdigit(*end) || *end == '.' ||
				   isalpha(*end) || *end == '-'))
			{
				end++;
			}
			if (end < buf + n && (*end == ',' || *end == ')') && end > pos &&
				isdigit(*pos))
			{
				i = min((size_t)(end - pos), len - 1);
				memcpy(running, pos, i);
				running[i] = '\0';
				break;
			}
		}
		/* keep a tail in case the banner spans two reads */
		keep = min(n, sizeof(needle) + 32);
		memmove(buf, buf + n - keep, keep);
	}
	close(fd);
	return streq(running, QKD_BUILT_VERSION);
}

/**
 * strongSwan itself logs the shared secret (X25519 secret || QKD key) and
 * keys derived from it at level 4 in the ike and chd groups (keymat_v2.c:
 * "shared Diffie Hellman secret %B", "DH secret %B", "seed %B", Sk_*).
 * Warn if a logger configured in strongswan.conf (charon.filelog.*,
 * charon.syslog.*) is at that level.  Not covered: the legacy loggers of
 * the command line (--debug-ike) and of ipsec.conf's charondebug (passed as
 * such options by starter), and loggers added at runtime (swanctl --log,
 * vici/stroke loglevel).
 */
static void check_log_levels(void)
{
	static const char *kinds[] = { "filelog", "syslog" };
	static const char *groups[] = { "ike", "chd" };
	enumerator_t *enumerator;
	char *section;
	u_int k, g;
	int def, level;

	for (k = 0; k < countof(kinds); k++)
	{
		enumerator = lib->settings->create_section_enumerator(lib->settings,
											"%s.%s", lib->ns, kinds[k]);
		while (enumerator->enumerate(enumerator, &section))
		{
			if (streq(kinds[k], "syslog") && streq(section, "identifier"))
			{
				continue;
			}
			def = lib->settings->get_int(lib->settings, "%s.%s.%s.default",
										 1, lib->ns, kinds[k], section);
			for (g = 0; g < countof(groups); g++)
			{
				level = lib->settings->get_int(lib->settings, "%s.%s.%s.%s",
							def, lib->ns, kinds[k], section, groups[g]);
				if (level >= 4)
				{
					DBG1(DBG_IKE, "qkd: WARNING: %s logger '%s' logs group %s "
						 "at level %d: at level 4 strongSwan logs the shared "
						 "secret, which contains the QKD key (use 3 or less)",
						 kinds[k], section, groups[g], level);
					break;
				}
			}
		}
		enumerator->destroy(enumerator);
	}
}

METHOD(plugin_t, get_name, char*,
	private_qkd_plugin_t *this)
{
	return "qkd";
}

/**
 * Register or unregister the listener
 */
static bool plugin_cb(private_qkd_plugin_t *this, plugin_feature_t *feature,
					  bool reg, void *cb_data)
{
	if (reg)
	{
		charon->bus->add_listener(charon->bus, &this->listener->listener);
	}
	else
	{
		charon->bus->remove_listener(charon->bus, &this->listener->listener);
	}
	return TRUE;
}

METHOD(plugin_t, get_features, int,
	private_qkd_plugin_t *this, plugin_feature_t *features[])
{
	static plugin_feature_t f[] = {
		PLUGIN_REGISTER(KE, qkd_ke_create),
			PLUGIN_PROVIDE(KE, QKD_KE_METHOD),
				PLUGIN_DEPENDS(KE, CURVE_25519),
				PLUGIN_DEPENDS(PRF, PRF_HMAC_SHA2_256),
		PLUGIN_CALLBACK((plugin_feature_callback_t)plugin_cb, NULL),
			PLUGIN_PROVIDE(CUSTOM, "qkd"),
	};
	*features = f;
	return countof(f);
}

METHOD(plugin_t, reload, bool,
	private_qkd_plugin_t *this)
{
	this->links->reload(this->links);
	this->listener->reload(this->listener);
	this->metrics->write(this->metrics);
	check_log_levels();
	qkd_log_counters();
	return TRUE;
}

METHOD(plugin_t, destroy, void,
	private_qkd_plugin_t *this)
{
	qkd_ke_log_stats();
	qkd_ke_set_links(NULL);
	this->listener->destroy(this->listener);
	this->links->destroy(this->links);
	this->metrics->destroy(this->metrics);
	free(this);
}

/*
 * Described in header
 */
plugin_t *qkd_plugin_create(void)
{
	private_qkd_plugin_t *this;
	char running[32];

	if (!qkd_plugin_version_matches(running, sizeof(running)))
	{
		DBG1(DBG_IKE, "qkd: plugin built for strongSwan %s but the running "
			 "daemon is strongSwan %s, refusing to load (rebuild the plugin "
			 "against this version)", QKD_BUILT_VERSION,
			 running[0] ? running : "of unknown version");
		return NULL;
	}

	INIT(this,
		.public = {
			.plugin = {
				.get_name = _get_name,
				.get_features = _get_features,
				.reload = _reload,
				.destroy = _destroy,
			},
		},
		.links = qkd_links_create(),
	);
	this->listener = qkd_listener_create(this->links);
	qkd_ke_set_links(this->links);
	this->metrics = qkd_metrics_create();

	lib->proposal->register_token(lib->proposal, QKD_KE_TOKEN,
								  KEY_EXCHANGE_METHOD, QKD_KE_METHOD, 0);
	DBG1(DBG_IKE, "qkd: key exchange method %d (X25519 + QKD), proposal "
		 "keyword '%s', keys from %s", QKD_KE_METHOD, QKD_KE_TOKEN,
		 qkd_keysrc_name());
	check_log_levels();
	return &this->public.plugin;
}
