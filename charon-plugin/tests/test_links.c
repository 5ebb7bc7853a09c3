/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host unit tests of the peer -> link mapping (qkd_links.c) against the
 * real libstrongswan (settings, identities, traffic selectors).  TAP.
 */
#include "tap.h"

#include <library.h>

#include "qkd_links.h"

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

	links->destroy(links);
	library_deinit();
	return tap_done();
}
