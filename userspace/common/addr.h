/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* "IPV4:PORT" listen addresses (the agent's metrics endpoint, the KME
 * simulator's endpoints): one parser, so every option and config key
 * accepts and refuses the same strings. */
#ifndef QKD_ADDR_H
#define QKD_ADDR_H
#include <netinet/in.h>

/*
 * Parse "A.B.C.D:PORT": a dotted-quad IPv4 address, a colon, a decimal
 * port 1..65535 and nothing after it.  An empty address part ("":PORT)
 * means empty_host, or is refused if empty_host is NULL.  Fills sa (if
 * not NULL) and returns 0, or returns -1.
 */
int parse_ipv4_port(const char *s, const char *empty_host, struct sockaddr_in *sa);

#endif
