/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading the kernel's IPsec SAs (NETLINK_XFRM) into struct sa_info. */
#ifndef QKDCTL_XFRM_H
#define QKDCTL_XFRM_H

#include <netlink/msg.h>

#include "model.h"

/*
 * Decode one XFRM_MSG_NEWSA message of an SA dump: addresses, SPI (host
 * order), mode, reqid, counters, add time, algorithm names and sizes.
 * Key bytes are never copied.  Returns 0 or -EBADMSG.
 */
int xfrm_sa_parse(struct nlmsghdr *nlh, struct sa_info *sa);

#endif
