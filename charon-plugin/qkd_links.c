/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "qkd_links.h"

#include <linux/qkd.h>

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>

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
	/** child rules, rule_t */
	linked_list_t *rules;
} entry_t;

/** one rule of links.<name>.children */
typedef struct {
	/** section name */
	char name[64];
	/** child config name patterns (char*, fnmatch) */
	linked_list_t *names;
	/** traffic selectors (traffic_selector_t), empty: any */
	linked_list_t *local_ts;
	linked_list_t *remote_ts;
	qkd_policy_t policy;
} rule_t;

static void rule_destroy(rule_t *this)
{
	this->names->destroy_function(this->names, free);
	this->local_ts->destroy_offset(this->local_ts,
								   offsetof(traffic_selector_t, destroy));
	this->remote_ts->destroy_offset(this->remote_ts,
									offsetof(traffic_selector_t, destroy));
	free(this);
}

static void entry_destroy(entry_t *this)
{
	DESTROY_IF(this->id);
	this->addrs->destroy_offset(this->addrs,
								offsetof(traffic_selector_t, destroy));
	this->rules->destroy_function(this->rules, (void*)rule_destroy);
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

/** the settings a child rule may have */
static const char *rule_keys[] = { "name", "local_ts", "remote_ts", "policy" };

/**
 * Check that a child rule has only known settings and no subsections
 */
static bool rule_keys_valid(char *link, char *rule)
{
	enumerator_t *enumerator;
	char *key, *value, *sub;
	bool valid = TRUE;
	u_int i;

	enumerator = lib->settings->create_key_value_enumerator(lib->settings,
					"%s.plugins.qkd.links.%s.children.%s", lib->ns, link, rule);
	while (valid && enumerator->enumerate(enumerator, &key, &value))
	{
		valid = FALSE;
		for (i = 0; i < countof(rule_keys); i++)
		{
			valid = valid || streq(key, rule_keys[i]);
		}
		if (!valid)
		{
			DBG1(DBG_IKE, "qkd: links.%s.children.%s.%s: unknown setting "
				 "(name, local_ts, remote_ts, policy)", link, rule, key);
		}
	}
	enumerator->destroy(enumerator);
	enumerator = lib->settings->create_section_enumerator(lib->settings,
					"%s.plugins.qkd.links.%s.children.%s", lib->ns, link, rule);
	if (valid && enumerator->enumerate(enumerator, &sub))
	{
		DBG1(DBG_IKE, "qkd: links.%s.children.%s.%s: unexpected subsection",
			 link, rule, sub);
		valid = FALSE;
	}
	enumerator->destroy(enumerator);
	return valid;
}

/**
 * A prefix length, if any, within the address family's bits
 * (traffic_selector_create_from_cidr() clamps it silently)
 */
static bool prefix_valid(char *elem)
{
	char *slash = strchr(elem, '/'), *end;
	long bits;

	if (!slash)
	{
		return TRUE;
	}
	errno = 0;
	bits = strtol(slash + 1, &end, 10);
	return !errno && end != slash + 1 && !*end && bits >= 0 &&
		   bits <= (strchr(elem, ':') ? 128 : 32);
}

/**
 * Parse a comma separated list of traffic selectors (addresses, CIDR
 * subnets, ranges) of a child rule
 */
static bool parse_rule_ts(char *link, char *rule, char *key,
						  linked_list_t *list)
{
	enumerator_t *enumerator;
	traffic_selector_t *ts;
	char *str, *elem;
	bool valid = TRUE;

	str = lib->settings->get_str(lib->settings,
				"%s.plugins.qkd.links.%s.children.%s.%s", NULL, lib->ns, link,
				rule, key);
	if (!str)
	{
		return TRUE;
	}
	enumerator = enumerator_create_token(str, ",", " ");
	while (valid && enumerator->enumerate(enumerator, &elem))
	{
		ts = prefix_valid(elem) ? parse_addr(elem) : NULL;
		if (!ts)
		{
			DBG1(DBG_IKE, "qkd: links.%s.children.%s.%s: '%s' is not an "
				 "address, CIDR subnet or from-to range", link, rule, key,
				 elem);
			valid = FALSE;
			break;
		}
		list->insert_last(list, ts);
	}
	enumerator->destroy(enumerator);
	if (valid && !list->get_count(list))
	{
		DBG1(DBG_IKE, "qkd: links.%s.children.%s.%s: empty list", link, rule,
			 key);
		valid = FALSE;
	}
	return valid;
}

/**
 * Parse the name patterns of a child rule (default: the rule's own name
 * if it has no traffic selectors)
 */
static bool parse_rule_names(char *link, rule_t *rule)
{
	enumerator_t *enumerator;
	char *str, *elem;

	str = lib->settings->get_str(lib->settings,
				"%s.plugins.qkd.links.%s.children.%s.name", NULL, lib->ns,
				link, rule->name);
	if (!str)
	{
		if (!rule->local_ts->get_count(rule->local_ts) &&
			!rule->remote_ts->get_count(rule->remote_ts))
		{
			rule->names->insert_last(rule->names, strdup(rule->name));
		}
		return TRUE;
	}
	enumerator = enumerator_create_token(str, ",", " ");
	while (enumerator->enumerate(enumerator, &elem))
	{
		rule->names->insert_last(rule->names, strdup(elem));
	}
	enumerator->destroy(enumerator);
	if (!rule->names->get_count(rule->names))
	{
		DBG1(DBG_IKE, "qkd: links.%s.children.%s.name: empty list", link,
			 rule->name);
		return FALSE;
	}
	return TRUE;
}

/**
 * Load one rule of links.<link>.children; NULL (logged) if invalid
 */
static rule_t *load_rule(char *link, char *name)
{
	rule_t *rule;
	char *policy;

	INIT(rule,
		.names = linked_list_create(),
		.local_ts = linked_list_create(),
		.remote_ts = linked_list_create(),
	);
	if (strlen(name) >= sizeof(rule->name))
	{
		DBG1(DBG_IKE, "qkd: links.%s.children.%s: rule name longer than %zu "
			 "characters", link, name, sizeof(rule->name) - 1);
		goto fail;
	}
	snprintf(rule->name, sizeof(rule->name), "%s", name);
	if (!rule_keys_valid(link, name))
	{
		goto fail;
	}
	policy = lib->settings->get_str(lib->settings,
				"%s.plugins.qkd.links.%s.children.%s.policy", NULL, lib->ns,
				link, name);
	if (!policy)
	{
		DBG1(DBG_IKE, "qkd: links.%s.children.%s.policy: missing (a child "
			 "rule must say require or prefer)", link, name);
		goto fail;
	}
	if (!parse_policy(policy, &rule->policy))
	{
		DBG1(DBG_IKE, "qkd: links.%s.children.%s.policy: invalid value '%s' "
			 "(require|prefer)", link, name, policy);
		goto fail;
	}
	if (!parse_rule_ts(link, name, "local_ts", rule->local_ts) ||
		!parse_rule_ts(link, name, "remote_ts", rule->remote_ts) ||
		!parse_rule_names(link, rule))
	{
		goto fail;
	}
	DBG2(DBG_IKE, "qkd: link '%s': child rule '%s': %d name pattern%s, %d "
		 "local and %d remote traffic selectors, policy %N", link, name,
		 rule->names->get_count(rule->names),
		 rule->names->get_count(rule->names) == 1 ? "" : "s",
		 rule->local_ts->get_count(rule->local_ts),
		 rule->remote_ts->get_count(rule->remote_ts), qkd_policy_names,
		 rule->policy);
	return rule;

fail:
	rule_destroy(rule);
	return NULL;
}

/**
 * Load links.<name>.children.  An invalid rule invalidates the link (the
 * link is ignored, so no CHILD_SA gets a weaker policy than configured
 * because of a typo).
 */
static bool load_rules(entry_t *entry, char *link)
{
	enumerator_t *enumerator;
	rule_t *rule;
	char *name;
	bool valid = TRUE;

	enumerator = lib->settings->create_section_enumerator(lib->settings,
					"%s.plugins.qkd.links.%s.children", lib->ns, link);
	while (valid && enumerator->enumerate(enumerator, &name))
	{
		rule = load_rule(link, name);
		if (!rule)
		{
			valid = FALSE;
			break;
		}
		entry->rules->insert_last(entry->rules, rule);
		entry->info.child_prefer |= rule->policy == QKD_POLICY_PREFER;
		entry->info.child_require |= rule->policy == QKD_POLICY_REQUIRE;
	}
	enumerator->destroy(enumerator);
	entry->info.child_rules = entry->rules->get_count(entry->rules);
	return valid;
}

/**
 * Parse links.<name>.remote_addrs (invalid elements are logged, ignored)
 */
static void load_addrs(entry_t *entry, char *name)
{
	enumerator_t *enumerator;
	traffic_selector_t *ts;
	char *addrs, *addr;

	addrs = lib->settings->get_str(lib->settings,
						"%s.plugins.qkd.links.%s.remote_addrs", NULL,
						lib->ns, name);
	if (!addrs)
	{
		return;
	}
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

static entry_t *load_entry(private_qkd_links_t *this, char *name,
						   uint32_t default_wait)
{
	entry_t *entry;
	char *link, *id, *policy;
	int wait;

	INIT(entry,
		.addrs = linked_list_create(),
		.rules = linked_list_create(),
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

	load_addrs(entry, name);
	if (!entry->id && !entry->addrs->get_count(entry->addrs))
	{
		DBG1(DBG_IKE, "qkd: link '%s' has neither remote_id nor remote_addrs, "
			 "ignored", name);
		goto fail;
	}
	if (!load_rules(entry, name))
	{
		DBG1(DBG_IKE, "qkd: link '%s' ignored because of an invalid child "
			 "rule (see above)", name);
		goto fail;
	}
	DBG2(DBG_IKE, "qkd: link '%s': module link '%s', remote_id %Y, "
		 "%d address ranges, policy %N%s, wait %u ms, %u child rules", name,
		 entry->info.link, entry->id, entry->addrs->get_count(entry->addrs),
		 qkd_policy_names, entry->info.policy, entry->info.sticky ?
		 " (sticky)" : "", entry->info.wait_ms, entry->info.child_rules);
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

/**
 * Prefix length of a rule's traffic selector (of the smallest subnet that
 * covers a range)
 */
static u_int ts_bits(traffic_selector_t *ts)
{
	host_t *net = NULL;
	uint8_t mask = 0;

	if (ts->to_subnet(ts, &net, &mask))
	{
		net->destroy(net);
	}
	else
	{
		DESTROY_IF(net);
	}
	return mask;
}

/**
 * Match one side: with require, any of the CHILD_SA's traffic selectors
 * overlaps one of the rule's (bits: the longest prefix that overlaps); with
 * prefer, each of them lies inside one of the rule's (bits: the shortest of
 * the longest containing prefixes).  An empty rule list matches anything
 * with 0 bits.  Returns FALSE if the side does not match.
 */
static bool match_side(linked_list_t *rule_ts, linked_list_t *child_ts,
					   qkd_policy_t policy, u_int *bits)
{
	enumerator_t *outer, *inner;
	traffic_selector_t *c, *r, *subset;
	u_int best, side = policy == QKD_POLICY_REQUIRE ? 0 : UINT_MAX;
	bool matched = policy != QKD_POLICY_REQUIRE, any;

	*bits = 0;
	if (!rule_ts->get_count(rule_ts))
	{
		return TRUE;
	}
	if (!child_ts || !child_ts->get_count(child_ts))
	{
		return FALSE;
	}
	outer = child_ts->create_enumerator(child_ts);
	while (outer->enumerate(outer, &c))
	{
		any = FALSE;
		best = 0;
		inner = rule_ts->create_enumerator(rule_ts);
		while (inner->enumerate(inner, &r))
		{
			if (policy == QKD_POLICY_REQUIRE)
			{
				subset = c->get_subset(c, r);
				if (!subset)
				{
					continue;
				}
				subset->destroy(subset);
			}
			else if (!c->is_contained_in(c, r))
			{
				continue;
			}
			any = TRUE;
			best = max(best, ts_bits(r));
		}
		inner->destroy(inner);
		if (policy == QKD_POLICY_REQUIRE && any)
		{
			matched = TRUE;
			side = max(side, best);
		}
		else if (policy == QKD_POLICY_PREFER)
		{
			matched = matched && any;
			side = min(side, best);
		}
	}
	outer->destroy(outer);
	*bits = matched ? side : 0;
	return matched;
}

/**
 * Score of a rule for a CHILD_SA (higher is more specific), or -1 if it
 * does not match
 */
static int rule_score(rule_t *rule, const char *child, linked_list_t *my_ts,
					  linked_list_t *other_ts, const char **how)
{
	enumerator_t *enumerator;
	char *pattern;
	u_int lbits, rbits;
	int name_rank = 0;

	if (rule->names->get_count(rule->names))
	{
		enumerator = rule->names->create_enumerator(rule->names);
		while (enumerator->enumerate(enumerator, &pattern))
		{
			if (child && streq(pattern, child))
			{
				name_rank = 2;
				break;
			}
			if (child && fnmatch(pattern, child, 0) == 0)
			{
				name_rank = 1;
			}
		}
		enumerator->destroy(enumerator);
		if (!name_rank)
		{
			return -1;
		}
	}
	if (!match_side(rule->local_ts, my_ts, rule->policy, &lbits) ||
		!match_side(rule->remote_ts, other_ts, rule->policy, &rbits))
	{
		return -1;
	}
	if (name_rank)
	{
		*how = rule->local_ts->get_count(rule->local_ts) ||
			   rule->remote_ts->get_count(rule->remote_ts) ?
			   (name_rank == 2 ? "name and traffic selectors" :
								 "name pattern and traffic selectors") :
			   (name_rank == 2 ? "name" : "name pattern");
	}
	else
	{
		*how = "traffic selectors";
	}
	return name_rank * 1000 + lbits + rbits;
}

METHOD(qkd_links_t, match_child, bool,
	private_qkd_links_t *this, const char *section, const char *child,
	linked_list_t *my_ts, linked_list_t *other_ts, qkd_child_match_t *match)
{
	enumerator_t *enumerator, *rules;
	entry_t *entry;
	rule_t *rule;
	const char *how = NULL;
	int score;

	memset(match, 0, sizeof(*match));
	this->lock->read_lock(this->lock);
	enumerator = this->entries->create_enumerator(this->entries);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (!streq(entry->info.section, section))
		{
			continue;
		}
		rules = entry->rules->create_enumerator(entry->rules);
		while (rules->enumerate(rules, &rule))
		{
			score = rule_score(rule, child, my_ts, other_ts, &how);
			if (score < 0 ||
				(match->matched && (u_int)score < match->score) ||
				(match->matched && (u_int)score == match->score &&
				 (match->policy == QKD_POLICY_REQUIRE ||
				  rule->policy == QKD_POLICY_PREFER)))
			{	/* less specific, or a tie that does not go to require */
				continue;
			}
			match->matched = TRUE;
			match->score = score;
			match->policy = rule->policy;
			match->how = how;
			snprintf(match->rule, sizeof(match->rule), "%s", rule->name);
		}
		rules->destroy(rules);
		break;
	}
	enumerator->destroy(enumerator);
	this->lock->unlock(this->lock);
	return match->matched;
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
			.match_child = _match_child,
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
