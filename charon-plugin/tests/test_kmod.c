/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host unit tests of the plugin's key source on libqkd (qkd_kmod.c): the
 * KEY_TAKE reply and extended-ACK parsing it relies on, with hand-built,
 * truncated and hostile messages; a take against libqkd's fake kernel;
 * and the behaviour without the module.  Run under ASan/UBSan.
 */
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/qkd.h>

/* included, not linked: kmod_take() is static */
#include "../qkd_kmod.c"
/* libqkd's fake kernel (lib/tests/fake_kernel.h) */
#include "fake_kernel.h"

static uint8_t ID[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* the reply builders are libqkd's fake kernel's (fake_kernel.h) */
/* parse from an exactly sized heap copy */
static int parse_exact(struct nlmsghdr *nlh, const uint8_t *want, uint8_t role,
					   struct qkd_key *key)
{
	struct nlmsghdr *copy = malloc(nlh->nlmsg_len);
	int ret;

	memcpy(copy, nlh, nlh->nlmsg_len);
	ret = qkd_kmod_parse_take(copy, want, role, key);
	free(copy);
	return ret;
}

static void test_take(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct qkd_key key;
	int ret;

	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, ID, 16, 32, QKD_KEY_ROLE_INITIATOR);
	ret = parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key);
	ok(ret == 0 && key.len == 32 && memcmp(key.id, ID, 16) == 0 &&
	   key.material[0] == 0x5a && key.role == QKD_KEY_ROLE_INITIATOR,
	   "initiator key parsed");
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_RESPONDER, &key) == -EPROTO,
	   "wrong role rejected");
	ok(parse_exact(nlh, ID, QKD_KEY_ROLE_INITIATOR, &key) == 0,
	   "expected ID accepted");
	{
		uint8_t other[16];

		memcpy(other, ID, 16);
		other[0] ^= 0xff;
		ok(parse_exact(nlh, other, QKD_KEY_ROLE_INITIATOR, &key) == -EPROTO,
		   "other ID than requested rejected");
	}
	{
		uint8_t zero[sizeof(key)] = { 0 };

		ok(memcmp(&key, zero, sizeof(key)) == 0,
		   "rejected reply leaves no key material");
	}

	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, ID, 16, 64, QKD_KEY_ROLE_RESPONDER);
	ok(parse_exact(nlh, ID, QKD_KEY_ROLE_RESPONDER, &key) == 0 &&
	   key.len == 64, "64 byte responder key parsed");

	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, ID, 16, 65, QKD_KEY_ROLE_INITIATOR);
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == -EMSGSIZE,
	   "65 byte key rejected");
	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, ID, 16, 15, QKD_KEY_ROLE_INITIATOR);
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == -EMSGSIZE,
	   "15 byte key rejected");
	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, ID, 15, 32, QKD_KEY_ROLE_INITIATOR);
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == -EPROTO,
	   "15 byte ID rejected");
	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, NULL, 0, 32, QKD_KEY_ROLE_INITIATOR);
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == -EPROTO,
	   "missing ID rejected");
	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, ID, 16, 0, QKD_KEY_ROLE_INITIATOR);
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == -EPROTO,
	   "missing material rejected");
	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, ID, 16, 32, -1);
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == -EPROTO,
	   "missing role rejected");
	nlh = fake_reply_start(buf, true);
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == -EPROTO,
	   "reply without key rejected");
	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, ID, 16, 32, QKD_KEY_ROLE_INITIATOR);
	fake_put_key_fields(nlh, ID, 16, 32, QKD_KEY_ROLE_INITIATOR);
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == -EPROTO,
	   "reply with two keys rejected");
	nlh = fake_reply_start(buf, false);
	fake_put_key_fields(nlh, ID, 16, 32, QKD_KEY_ROLE_INITIATOR);
	ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == -EPROTO,
	   "reply of another command rejected");

	/* truncated: cut the message at every length */
	{
		int bad = 0;
		uint32_t full, len;

		nlh = fake_reply_start(buf, true);
		fake_put_key_fields(nlh, ID, 16, 32, QKD_KEY_ROLE_INITIATOR);
		full = nlh->nlmsg_len;
		for (len = sizeof(struct nlmsghdr); len < full; len++)
		{
			nlh->nlmsg_len = len;
			if (parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) == 0 &&
				len < full - 24)
			{	/* only the trailing u64 attributes may go missing */
				bad++;
			}
		}
		ok(!bad, "truncated replies rejected");
	}

	/* hostile: nested attribute claiming more than the message */
	nlh = fake_reply_start(buf, true);
	fake_put_key_fields(nlh, ID, 16, 32, QKD_KEY_ROLE_INITIATOR);
	{
		struct nlattr *a = mnl_nlmsg_get_payload_offset(nlh, GENL_HDRLEN);

		a = mnl_attr_next(a);	/* the QKD_A_KEY nest */
		a->nla_len = 0xfff0;
		ok(parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key) != 0,
		   "oversized nest length rejected");
	}

	/* random garbage after the genl header */
	{
		unsigned int seed = 7, i, j, crashes = 0;

		for (i = 0; i < 20000; i++)
		{
			nlh = fake_reply_start(buf, true);
			fake_put_key_fields(nlh, ID, 16, 32, QKD_KEY_ROLE_INITIATOR);
			for (j = 0; j < 4; j++)
			{
				((uint8_t*)nlh)[sizeof(*nlh) + GENL_HDRLEN +
					rand_r(&seed) % (nlh->nlmsg_len - sizeof(*nlh) -
									 GENL_HDRLEN)] = rand_r(&seed);
			}
			ret = parse_exact(nlh, NULL, QKD_KEY_ROLE_INITIATOR, &key);
			if (ret == 0 && (key.len < 16 || key.len > 64))
			{
				crashes++;
			}
		}
		ok(!crashes, "20000 corrupted replies parsed safely");
	}
}

static void test_error(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], err[QKD_KEYSRC_ERR_LEN];
	struct nlmsghdr *nlh;
	struct nlmsgerr *e;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -EBUSY;
	e->msg.nlmsg_len = 100;
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "token bucket empty");
	ok(qkd_kmod_parse_error(nlh, err) == -EBUSY &&
	   strcmp(err, "token bucket empty") == 0, "capped extack message read");

	/* uncapped: the request follows the nlmsgerr */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_ACK_TLVS;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e) + 8);
	e->error = -ENODEV;
	e->msg.nlmsg_len = sizeof(struct nlmsghdr) + 8;
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "no such link");
	ok(qkd_kmod_parse_error(nlh, err) == -ENODEV &&
	   strcmp(err, "no such link") == 0, "uncapped extack message read");

	/* request length pointing past the message */
	e->msg.nlmsg_len = 4000;
	ok(qkd_kmod_parse_error(nlh, err) == -ENODEV && err[0] == '\0',
	   "bogus embedded request length: errno kept, no message");

	/* ACK */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = 0;
	ok(qkd_kmod_parse_error(nlh, err) == 0, "ACK is success");

	/* unterminated message string */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -EINVAL;
	mnl_attr_put(nlh, NLMSGERR_ATTR_MSG, 4, "abcd");
	ok(qkd_kmod_parse_error(nlh, err) == -EINVAL && err[0] == '\0',
	   "unterminated extack string ignored");

	/* positive error */
	e->error = 5;
	ok(qkd_kmod_parse_error(nlh, err) == -EBADMSG, "positive error rejected");

	/* short */
	nlh->nlmsg_len = sizeof(*nlh) + 4;
	ok(qkd_kmod_parse_error(nlh, err) == -EBADMSG, "short error rejected");
}

static void test_no_module(void)
{
	char err[QKD_KEYSRC_ERR_LEN];
	struct qkd_key key;
	int ret;

	ret = qkd_keysrc_take("nosuchlink", NULL, 0, 0, &key, err);
	if (ret == -ENOPROTOOPT)
	{
		ok(strstr(err, "not found") != NULL,
		   "without the module: -ENOPROTOOPT and a message");
	}
	else
	{	/* the module is loaded here: the link does not exist */
		ok(ret == -ENODEV || ret == -EPERM, "with the module: no such link "
		   "(ret %d, %s)", ret, err);
	}
	ok(qkd_keysrc_take("", NULL, 0, 0, &key, err) == -EINVAL,
	   "empty link name rejected locally");
	ok(qkd_keysrc_take("0123456789012345678901234567890123", NULL, 0, 0, &key,
					   err) == -EINVAL, "over-long link name rejected locally");
}

/* a second KEY_TAKE reply in the same transaction voids the take */
static void test_second_reply(void)
{
	char err[QKD_KEYSRC_ERR_LEN] = "";
	struct qkd_key key, zero;
	struct fake_take one = { ID, 32, QKD_KEY_ROLE_INITIATOR, 1, 1 };
	struct fake_take two = { ID, 32, QKD_KEY_ROLE_INITIATOR, 1, 2 };
	struct qkd_nl *nl = fake_kernel_handle();
	int r1, r2;

	memset(&zero, 0, sizeof(zero));
	fk.respond = fake_answer_take;
	fk.arg = &one;
	r1 = kmod_take(nl, "l1", NULL, 0, 0, &key, err);
	ok(r1 == 0 && key.len == 32 && key.role == QKD_KEY_ROLE_INITIATOR,
	   "first KEY_TAKE reply accepted");
	fk.arg = &two;
	r2 = kmod_take(nl, "l1", NULL, 0, 0, &key, err);
	ok(r2 == -EPROTO && memcmp(&key, &zero, sizeof(key)) == 0 &&
	   strstr(err, "more than one"),
	   "second reply: take voided (-EPROTO), key wiped (%s)", err);
	qkd_nl_free(nl);
}

static struct qkd_nl *reloaded_nl;

/* the fake kernel after a module reload: KEY_TAKE on the old family ID
 * gets genetlink's -ENOENT, GETFAMILY gives family id `arg`, a take on
 * that one gets a key */
static void answer_reloaded(struct nlmsghdr *req, void *arg)
{
	uint16_t new_id = *(uint16_t *)arg;
	struct fake_dgram *d = fake_dgram(0);
	struct fake_take t = { ID, 32, QKD_KEY_ROLE_INITIATOR, 1, 1 };

	if (req->nlmsg_type == GENL_ID_CTRL)
	{	/* (the reconnected handle's socket is real, its I/O still the
		 * fake's: the fake answers as port FAKE_PORT) */
		reloaded_nl->portid = FAKE_PORT;
		struct nlmsghdr *nlh = fake_put_genl(d, req, GENL_ID_CTRL,
											 CTRL_CMD_NEWFAMILY, 0);
		struct nlattr *grps, *g;

		mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, new_id);
		mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, QKD_FAMILY_VERSION);
		grps = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
		g = mnl_attr_nest_start(nlh, 1);
		mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, QKD_MCGRP_KEYS);
		mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 7);
		mnl_attr_nest_end(nlh, g);
		g = mnl_attr_nest_start(nlh, 2);
		mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, QKD_MCGRP_MONITOR);
		mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 8);
		mnl_attr_nest_end(nlh, g);
		mnl_attr_nest_end(nlh, grps);
		fake_end(d, nlh);
		fake_ack(d, req, 0, NULL);
	}
	else if (req->nlmsg_type == new_id)
	{
		fk.head = fk.tail;	/* drop d: fake_answer_take makes its own */
		fake_answer_take(req, &t);
	}
	else
	{	/* the old family ID: genetlink knows it no more, no extack */
		fake_ack(d, req, -ENOENT, NULL);
	}
}

/* the fake kernel after an unload: -ENOENT to everything */
static void answer_unloaded(struct nlmsghdr *req, void *arg)
{
	int enoent = -ENOENT;

	(void)arg;
	reloaded_nl->portid = FAKE_PORT;	/* as in answer_reloaded() */
	fake_answer_error(req, &enoent);
}

static void pool_reset(void)
{
	pool_close();
	pool.opened = pool.reused = 0;
}

/* handles are kept between calls, closed when the kernel's answer is
 * missing, and re-resolved when a reload made their family ID stale */
static void test_pool(void)
{
	char err[QKD_KEYSRC_ERR_LEN] = "";
	struct fake_take one = { ID, 32, QKD_KEY_ROLE_INITIATOR, 1, 1 };
	struct qkd_key key;
	uint16_t new_id = FAKE_FAMILY + 1;
	int r1, r2;

	pool_reset();
	pool.idle[pool.nidle++] = fake_kernel_handle();
	fk.respond = fake_answer_take;
	fk.arg = &one;
	r1 = qkd_keysrc_take("l1", NULL, 0, 0, &key, err);
	r2 = qkd_keysrc_take("l1", NULL, 0, 0, &key, err);
	ok(r1 == 0 && r2 == 0 && key.len == 32 && fk.sends == 2 &&
	   pool.reused == 2 && pool.opened == 0 && pool.nidle == 1,
	   "two takes on one pooled handle: 2 requests, no new handle "
	   "(reused %lu, opened %lu, idle %d)", pool.reused, pool.opened,
	   pool.nidle);

	fk.respond = NULL;	/* no answer: the receive times out */
	r1 = qkd_keysrc_take("l1", NULL, 0, 0, &key, err);
	ok(r1 == -EAGAIN && pool.nidle == 0,
	   "no answer (%d): the handle is closed, not pooled (idle %d)", r1,
	   pool.nidle);

	pool_reset();
	pool.idle[pool.nidle++] = reloaded_nl = fake_kernel_handle();
	fk.respond = answer_reloaded;
	fk.arg = &new_id;
	r1 = qkd_keysrc_take("l1", NULL, 0, 0, &key, err);
	ok(r1 == 0 && key.len == 32 && fk.sends == 3 && pool.nidle == 1 &&
	   qkd_nl_family(pool.idle[0]) == new_id,
	   "module reloaded: -ENOENT on the old family ID, family looked up "
	   "again (0x%x), the take made again and served (%d, %u requests)",
	   pool.nidle ? qkd_nl_family(pool.idle[0]) : 0, r1, fk.sends);
	/* a later take goes to the new ID at once */
	r2 = qkd_keysrc_take("l1", NULL, 0, 0, &key, err);
	ok(r2 == 0 && fk.sends == 4, "and the next take is one request (%u)",
	   fk.sends);

	/* unloaded: -ENOENT, and GETFAMILY finds nothing */
	fk.respond = answer_unloaded;
	r1 = qkd_keysrc_take("l1", NULL, 0, 0, &key, err);
	ok(r1 == -ENOPROTOOPT && strstr(err, "not found") && pool.nidle == 0,
	   "module unloaded: -ENOENT, no family any more: -ENOPROTOOPT, '%s', "
	   "the handle closed", err);
	pool_reset();
}

int main(void)
{
	test_take();
	test_error();
	test_no_module();
	test_second_reply();
	test_pool();
	return tap_done();
}
