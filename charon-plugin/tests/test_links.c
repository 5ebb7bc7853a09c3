/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host unit tests of the peer -> link mapping (qkd_links.c) against the
 * real libstrongswan (settings, identities, traffic selectors).  TAP.
 */
#include "tap.h"

#include <library.h>

#include "qkd_links.h"

#include <selectors/traffic_selector.h>

static char *conf =
	"test {\n"
	" plugins { qkd {\n"
	"  wait_ms = 1500\n"
	"  links {\n"
	"   byid { remote_id = \"C=CH, O=qkd-test, CN=gw-b\"\n"
	"          policy = prefer\n"
	"          sticky = yes\n"
	"          wait_ms = 100 }\n"
	"   byaddr { link = mod2\n"
	"            remote_addrs = 192.0.2.0/24, 10.0.0.5 }\n"
	"   range { remote_addrs = 198.51.100.10-198.51.100.20 }\n"
	"   wild { remote_id = \"C=CH, O=wild, CN=*\"\n"
	"          remote_addrs = 203.0.113.1 }\n"
	"   v6 { remote_addrs = 2001:db8::/32 }\n"
	"   badpolicy { policy = maybe\n"
	"               remote_addrs = 172.16.0.1 }\n"
	"   nomatch { policy = prefer }\n"
	"   longname { link = 0123456789012345678901234567890123456789\n"
	"              remote_addrs = 0.0.0.0/0 }\n"
	"   badwait { wait_ms = 99999\n"
	"             remote_addrs = 192.168.7.7 }\n"
	"  }\n"
	" } }\n"
	"}\n";

static bool look(qkd_links_t *links, char *id, char *addr,
				 qkd_link_info_t *info)
{
	identification_t *i = id ? identification_create_from_string(id) : NULL;
	host_t *h = addr ? host_create_from_string(addr, 0) : NULL;
	bool found;

	memset(info, 0, sizeof(*info));
	found = links->lookup(links, i, h, info);
	DESTROY_IF(i);
	DESTROY_IF(h);
	return found;
}

static char *conf_children =
	"test {\n"
	" plugins { qkd {\n"
	"  links {\n"
	"   good { remote_addrs = 192.0.2.0/24\n"
	"          policy = prefer\n"
	"          children {\n"
	"           finance { policy = require }\n"
	"           fin-any { name = fin-*, acct\n policy = prefer }\n"
	"           web-ts { remote_ts = 10.3.0.0/16\n policy = prefer }\n"
	"           web-host { remote_ts = 10.3.1.0/24\n"
	"                      local_ts = 10.1.0.0/16\n policy = prefer }\n"
	"           db { remote_ts = 10.4.0.0/16, 10.5.0.1-10.5.0.9\n"
	"                policy = require }\n"
	"           tie-p { remote_ts = 10.6.0.0/16\n policy = prefer }\n"
	"           tie-r { remote_ts = 10.6.0.0/16\n policy = require }\n"
	"           both { name = mail\n remote_ts = 10.7.0.0/16\n"
	"                  policy = prefer }\n"
	"           v6 { remote_ts = 2001:db8::/32\n policy = prefer }\n"
	"          } }\n"
	"   badv6 { remote_addrs = 198.51.100.7\n"
	"           children { web { remote_ts = 2001:db8::/129\n"
	"                            policy = prefer } } }\n"
	"   nopol { remote_addrs = 198.51.100.1\n"
	"           children { finance { name = finance } } }\n"
	"   badpol { remote_addrs = 198.51.100.2\n"
	"            children { finance { policy = always } } }\n"
	"   badkey { remote_addrs = 198.51.100.3\n"
	"            children { web { ts = 10.3.0.0/16\n policy = prefer } } }\n"
	"   badts { remote_addrs = 198.51.100.4\n"
	"           children { web { remote_ts = 10.3.0.0/99\n"
	"                            policy = prefer } } }\n"
	"   emptyname { remote_addrs = 198.51.100.5\n"
	"               children { web { name = \",\"\n policy = prefer } } }\n"
	"   subsec { remote_addrs = 198.51.100.6\n"
	"            children { web { policy = prefer\n x { y = 1 } } } }\n"
	"  }\n"
	" } }\n"
	"}\n";

/* match_child on link "good" with a CHILD_SA NAME, 10.1.0.1/32 === REMOTE */
static bool child(qkd_links_t *links, char *name, char *remote,
				  qkd_child_match_t *match)
{
	linked_list_t *my = linked_list_create(), *other = linked_list_create();
	bool found;

	my->insert_last(my, traffic_selector_create_from_cidr("10.1.0.1/32", 0,
														  0, 65535));
	if (remote)
	{
		other->insert_last(other, traffic_selector_create_from_cidr(remote, 0,
																0, 65535));
	}
	found = links->match_child(links, "good", name, my, other, match);
	my->destroy_offset(my, offsetof(traffic_selector_t, destroy));
	other->destroy_offset(other, offsetof(traffic_selector_t, destroy));
	return found;
}

static void test_children(qkd_links_t *links)
{
	qkd_link_info_t info;
	qkd_child_match_t m;
	int count;

	lib->settings->load_string(lib->settings, conf_children, FALSE);
	count = links->reload(links);
	ok(count == 1, "child rules: only the link with valid rules loaded (%d; "
	   "missing policy, bad policy, unknown key, bad ts, empty name list, "
	   "subsection each reject their link)", count);
	ok(look(links, NULL, "192.0.2.9", &info) && info.child_rules == 9 &&
	   info.child_prefer && info.child_require, "9 rules, prefer and "
	   "require among them");
	ok(!look(links, NULL, "198.51.100.1", &info) &&
	   !look(links, NULL, "198.51.100.4", &info),
	   "a link with an invalid rule is ignored (fail closed: default "
	   "policy)");
	ok(child(links, "finance", "10.9.0.1/32", &m) && streq(m.rule, "finance")
	   && m.policy == QKD_POLICY_REQUIRE && streq(m.how, "name"),
	   "rule without name or ts matches by its section name");
	ok(child(links, "fin-x", "10.9.0.1/32", &m) && streq(m.rule, "fin-any") &&
	   m.policy == QKD_POLICY_PREFER && streq(m.how, "name pattern"),
	   "name pattern (fnmatch) matches");
	ok(child(links, "acct", NULL, &m) && streq(m.rule, "fin-any") &&
	   streq(m.how, "name"), "exact name from a list");
	ok(child(links, "finance", "10.3.0.1/32", &m) &&
	   streq(m.rule, "finance") && m.policy == QKD_POLICY_REQUIRE,
	   "exact name beats a traffic selector rule");
	ok(child(links, "x", "10.3.2.0/24", &m) && streq(m.rule, "web-ts") &&
	   m.policy == QKD_POLICY_PREFER && streq(m.how, "traffic selectors"),
	   "prefer ts rule: child inside 10.3.0.0/16");
	ok(child(links, "x", "10.3.1.0/28", &m) && streq(m.rule, "web-host"),
	   "longer prefixes (local + remote) win");
	ok(!child(links, "x", "10.3.0.0/15", &m),
	   "prefer ts rule does not match a child reaching outside it");
	ok(child(links, "x", "10.4.7.7/32", &m) && streq(m.rule, "db") &&
	   m.policy == QKD_POLICY_REQUIRE, "require ts rule: child inside");
	ok(child(links, "x", "10.0.0.0/8", &m) && streq(m.rule, "db") &&
	   m.policy == QKD_POLICY_REQUIRE,
	   "require ts rule: child overlapping it (10.0.0.0/8) is require "
	   "although it also covers prefer rules' ranges");
	ok(child(links, "x", "10.5.0.5/32", &m) && streq(m.rule, "db"),
	   "require ts rule: range element");
	ok(child(links, "x", "10.6.1.0/24", &m) && streq(m.rule, "tie-r") &&
	   m.policy == QKD_POLICY_REQUIRE, "a tie goes to require");
	ok(child(links, "mail", "10.7.1.0/24", &m) && streq(m.rule, "both") &&
	   streq(m.how, "name and traffic selectors"),
	   "name and ts rule: both match");
	ok(!child(links, "mail", "10.8.1.0/24", &m) &&
	   !child(links, "smtp", "10.7.1.0/24", &m),
	   "name and ts rule: one of them not matching is no match");
	ok(!child(links, "x", "10.9.0.1/32", &m) && !m.matched,
	   "no rule matches: the link's policy applies");
	ok(child(links, "x", "2001:db8:1::/48", &m) && streq(m.rule, "v6") &&
	   !child(links, "x", "2001:db9::/48", &m),
	   "IPv6 traffic selector rule (inside matches, outside does not)");
	ok(!look(links, NULL, "198.51.100.7", &info),
	   "IPv6 prefix length 129 rejected (link ignored)");
	ok(!links->match_child(links, "nolink", "finance", NULL, NULL, &m),
	   "unknown link section: no rule");
}

int main(void)
{
	qkd_links_t *links;
	qkd_link_info_t info;
	int count;

	if (!library_init(NULL, "test"))
	{
		printf("Bail out! library_init\n");
		return 1;
	}
	lib->settings->load_string(lib->settings, conf, FALSE);
	links = qkd_links_create();

	count = links->reload(links);
	ok(count == 6, "six valid links loaded, invalid ones ignored (%d)", count);
	ok(links->get_default_policy(links) == QKD_POLICY_REQUIRE,
	   "default policy without a link is require");

	ok(look(links, "C=CH, O=qkd-test, CN=gw-b", "1.1.1.1", &info) &&
	   streq(info.section, "byid") && streq(info.link, "byid") &&
	   info.by_id && info.policy == QKD_POLICY_PREFER && info.wait_ms == 100,
	   "identity match: link, policy, wait_ms");
	ok(info.sticky, "sticky = yes parsed");
	ok(look(links, "%any", "192.0.2.7", &info) && streq(info.link, "mod2") &&
	   !info.by_id && info.policy == QKD_POLICY_REQUIRE &&
	   info.wait_ms == 1500, "unknown identity: matched by subnet, link name "
	   "from 'link', global wait_ms");
	ok(!info.sticky, "sticky defaults to no");
	ok(look(links, NULL, "10.0.0.5", &info) && streq(info.link, "mod2"),
	   "no identity: matched by single address");
	ok(look(links, "C=CH, O=qkd-test, CN=other", "192.0.2.7", &info) &&
	   streq(info.section, "byaddr"),
	   "known but other identity skips remote_id links, address matches");
	ok(look(links, NULL, "198.51.100.15", &info) &&
	   streq(info.section, "range"), "matched by address range");
	ok(!look(links, NULL, "198.51.100.21", &info),
	   "address just outside the range does not match");
	ok(look(links, "C=CH, O=wild, CN=gw-x", "9.9.9.9", &info) &&
	   streq(info.section, "wild") && info.by_id, "wildcard identity match");
	ok(!look(links, "C=CH, O=other, CN=gw-x", "203.0.113.1", &info),
	   "known identity decides: mismatching identity does not fall back to "
	   "the address of the same link");
	ok(look(links, "%any", "203.0.113.1", &info) &&
	   streq(info.section, "wild") && !info.by_id,
	   "unknown identity (IKE_SA_INIT): address of a remote_id link matches");
	ok(look(links, NULL, "2001:db8::1", &info) && streq(info.section, "v6"),
	   "IPv6 subnet match");
	ok(!look(links, NULL, "172.16.0.1", &info),
	   "link with invalid policy ignored");
	ok(!look(links, NULL, "8.8.8.8", &info),
	   "over-long module link name ignored (its 0.0.0.0/0 never matches)");
	ok(look(links, NULL, "192.168.7.7", &info) && info.wait_ms == 10000,
	   "wait_ms clamped to 10000");
	ok(!look(links, NULL, NULL, &info), "no identity, no address: no link");
	ok(look(links, NULL, "192.0.2.7", &info) && info.child_rules == 0 &&
	   !info.child_prefer && !info.child_require, "no child rules");
	test_children(links);

	links->destroy(links);
	library_deinit();
	return tap_done();
}
