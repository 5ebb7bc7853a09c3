/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qkd_links.h"

#include <linux/qkd.h>

#include <library.h>
#include <utils/debug.h>
#include <collections/linked_list.h>
#include <threading/rwlock.h>
#include <selectors/traffic_selector.h>

ENUM(qkd_policy_names, QKD_POLICY_REQUIRE, QKD_POLICY_PREFER,
	"require",
	"prefer",
);

#define DEFAULT_WAIT_MS 2000

typedef struct private_qkd_links_t private_qkd_links_t;

struct private_qkd_links_t {

	/** public interface */
	qkd_links_t public;

	/** configured links, entry_t */
	linked_list_t *entries;

	/** policy without a matching link */
	qkd_policy_t default_policy;

	/** lock for the above */
	rwlock_t *lock;
};

typedef struct {
	qkd_link_info_t info;
	/** remote identity pattern, or NULL */
	identification_t *id;
	/** remote address ranges, traffic_selector_t */
	linked_list_t *addrs;
} entry_t;

static void entry_destroy(entry_t *this)
{
	DESTROY_IF(this->id);
	this->addrs->destroy_offset(this->addrs,
								offsetof(traffic_selector_t, destroy));
	free(this);
}

/**
 * Parse "require" or "prefer"
 */
static bool parse_policy(char *str, qkd_policy_t *policy)
{
	if (streq(str, "require"))
	{
		*policy = QKD_POLICY_REQUIRE;
		return TRUE;
	}
	if (streq(str, "prefer"))
	{
		*policy = QKD_POLICY_PREFER;
		return TRUE;
	}
	return FALSE;
}

/**
 * Parse one element of remote_addrs: %any, an address, a CIDR subnet or a
 * from-to range
 */
static traffic_selector_t *parse_addr(char *str)
{
	traffic_selector_t *ts;
	char *pos;

	if (streq(str, "%any") || streq(str, "0.0.0.0/0"))
	{
		return traffic_selector_create_from_cidr("0.0.0.0/0", 0, 0, 65535);
	}
	if (streq(str, "%any6") || streq(str, "::/0"))
	{
		return traffic_selector_create_from_cidr("::/0", 0, 0, 65535);
	}
	pos = strchr(str, '-');
	if (pos)
	{
		char *from = strndup(str, pos - str);
		host_t *h = host_create_from_string(from, 0);

		ts = NULL;
		if (h)
		{
			ts = traffic_selector_create_from_string(0,
						h->get_family(h) == AF_INET ? TS_IPV4_ADDR_RANGE
													: TS_IPV6_ADDR_RANGE,
						from, 0, pos + 1, 65535);
			h->destroy(h);
		}
		free(from);
		return ts;
	}
	return traffic_selector_create_from_cidr(str, 0, 0, 65535);
}

static entry_t *load_entry(private_qkd_links_t *this, char *name,
						   uint32_t default_wait)
{
	entry_t *entry;
	enumerator_t *enumerator;
	char *link, *id, *addrs, *policy, *addr;
	traffic_selector_t *ts;
	int wait;

	INIT(entry,
		.addrs = linked_list_create(),
	);
	snprintf(entry->info.section, sizeof(entry->info.section), "%s", name);

	link = lib->settings->get_str(lib->settings, "%s.plugins.qkd.links.%s.link",
								  name, lib->ns, name);
	if (!link || !link[0] || strlen(link) >= sizeof(entry->info.link) ||
		strlen(link) >= QKD_LINK_NAME_MAX)
	{
		DBG1(DBG_IKE, "qkd: link '%s': invalid module link name '%s', "
			 "ignored", name, link);
		goto fail;
	}
	snprintf(entry->info.link, sizeof(entry->info.link), "%s", link);

	policy = lib->settings->get_str(lib->settings,
						"%s.plugins.qkd.links.%s.policy", "require",
						lib->ns, name);
	if (!parse_policy(policy, &entry->info.policy))
	{
		DBG1(DBG_IKE, "qkd: link '%s': invalid policy '%s' (require|prefer), "
			 "ignored", name, policy);
		goto fail;
	}

	entry->info.sticky = lib->settings->get_bool(lib->settings,
						"%s.plugins.qkd.links.%s.sticky", FALSE, lib->ns, name);

	wait = lib->settings->get_int(lib->settings,
						"%s.plugins.qkd.links.%s.wait_ms", default_wait,
						lib->ns, name);
	if (wait < 0 || wait > QKD_TAKE_WAIT_MAX_MS)
	{
		DBG1(DBG_IKE, "qkd: link '%s': wait_ms %d out of range 0..%d, "
			 "using %d", name, wait, QKD_TAKE_WAIT_MAX_MS, QKD_TAKE_WAIT_MAX_MS);
		wait = wait < 0 ? 0 : QKD_TAKE_WAIT_MAX_MS;
	}
	entry->info.wait_ms = wait;

	id = lib->settings->get_str(lib->settings,
						"%s.plugins.qkd.links.%s.remote_id", NULL,
						lib->ns, name);
	if (id && id[0])
	{
		entry->id = identification_create_from_string(id);
	}

	addrs = lib->settings->get_str(lib->settings,
						"%s.plugins.qkd.links.%s.remote_addrs", NULL,
						lib->ns, name);
	if (addrs)
	{
		enumerator = enumerator_create_token(addrs, ",", " ");
		while (enumerator->enumerate(enumerator, &addr))
		{
			ts = parse_addr(addr);
			if (!ts)
			{
				DBG1(DBG_IKE, "qkd: link '%s': invalid remote_addrs element "
					 "'%s', ignored", name, addr);
				continue;
			}
			entry->addrs->insert_last(entry->addrs, ts);
		}
		enumerator->destroy(enumerator);
	}
	if (!entry->id && !entry->addrs->get_count(entry->addrs))
	{
		DBG1(DBG_IKE, "qkd: link '%s' has neither remote_id nor remote_addrs, "
			 "ignored", name);
		goto fail;
	}
	DBG2(DBG_IKE, "qkd: link '%s': module link '%s', remote_id %Y, "
		 "%d address ranges, policy %N%s, wait %u ms", name, entry->info.link,
		 entry->id, entry->addrs->get_count(entry->addrs), qkd_policy_names,
		 entry->info.policy, entry->info.sticky ? " (sticky)" : "",
		 entry->info.wait_ms);
	return entry;

fail:
	entry_destroy(entry);
	return NULL;
}

METHOD(qkd_links_t, reload, int,
	private_qkd_links_t *this)
{
	linked_list_t *entries;
	enumerator_t *enumerator;
	entry_t *entry;
	qkd_policy_t policy = QKD_POLICY_REQUIRE;
	char *name, *str;
	int wait, count;

	str = lib->settings->get_str(lib->settings, "%s.plugins.qkd.policy",
								 "require", lib->ns);
	if (!parse_policy(str, &policy))
	{
		DBG1(DBG_IKE, "qkd: invalid policy '%s' (require|prefer), using "
			 "require", str);
	}
	wait = lib->settings->get_int(lib->settings, "%s.plugins.qkd.wait_ms",
								  DEFAULT_WAIT_MS, lib->ns);
	if (wait < 0 || wait > QKD_TAKE_WAIT_MAX_MS)
	{
		wait = DEFAULT_WAIT_MS;
	}

	entries = linked_list_create();
	enumerator = lib->settings->create_section_enumerator(lib->settings,
										"%s.plugins.qkd.links", lib->ns);
	while (enumerator->enumerate(enumerator, &name))
	{
		entry = load_entry(this, name, wait);
		if (entry)
		{
			entries->insert_last(entries, entry);
		}
	}
	enumerator->destroy(enumerator);

	this->lock->write_lock(this->lock);
	this->entries->destroy_function(this->entries, (void*)entry_destroy);
	this->entries = entries;
	this->default_policy = policy;
	count = entries->get_count(entries);
	this->lock->unlock(this->lock);

	DBG1(DBG_IKE, "qkd: loaded %d link%s, policy without a link: %N", count,
		 count == 1 ? "" : "s", qkd_policy_names, policy);
	return count;
}

static bool id_known(identification_t *id)
{
	return id && id->get_type(id) != ID_ANY;
}

METHOD(qkd_links_t, lookup, bool,
	private_qkd_links_t *this, identification_t *id, host_t *host,
	qkd_link_info_t *info)
{
	enumerator_t *enumerator, *addrs;
	traffic_selector_t *ts;
	entry_t *entry;
	bool found = FALSE;

	this->lock->read_lock(this->lock);
	enumerator = this->entries->create_enumerator(this->entries);
	while (!found && enumerator->enumerate(enumerator, &entry))
	{
		if (entry->id && id_known(id))
		{
			if (id->matches(id, entry->id) > ID_MATCH_NONE)
			{
				*info = entry->info;
				info->by_id = TRUE;
				found = TRUE;
			}
			continue;
		}
		if (!host)
		{
			continue;
		}
		addrs = entry->addrs->create_enumerator(entry->addrs);
		while (addrs->enumerate(addrs, &ts))
		{
			if (ts->includes(ts, host))
			{
				*info = entry->info;
				info->by_id = FALSE;
				found = TRUE;
				break;
			}
		}
		addrs->destroy(addrs);
	}
	enumerator->destroy(enumerator);
	this->lock->unlock(this->lock);
	return found;
}

METHOD(qkd_links_t, get_default_policy, qkd_policy_t,
	private_qkd_links_t *this)
{
	qkd_policy_t policy;

	this->lock->read_lock(this->lock);
	policy = this->default_policy;
	this->lock->unlock(this->lock);
	return policy;
}

METHOD(qkd_links_t, destroy, void,
	private_qkd_links_t *this)
{
	this->entries->destroy_function(this->entries, (void*)entry_destroy);
	this->lock->destroy(this->lock);
	free(this);
}

/*
 * Described in header
 */
qkd_links_t *qkd_links_create(void)
{
	private_qkd_links_t *this;

	INIT(this,
		.public = {
			.lookup = _lookup,
			.get_default_policy = _get_default_policy,
			.reload = _reload,
			.destroy = _destroy,
		},
		.entries = linked_list_create(),
		.lock = rwlock_create(RWLOCK_TYPE_DEFAULT),
	);
	reload(this);
	return &this->public;
}
