// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The "IPV4:PORT" parser (see addr.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "addr.h"

/* Decimal digits only: strtoul alone would take blanks and signs. */
static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int parse_ipv4_port(const char *s, const char *empty_host, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	struct in_addr ia;
	uint16_t port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (!host[0] && !empty_host)
		return -1;
	if (parse_port(colon + 1, &port) ||
	    inet_pton(AF_INET, host[0] ? host : empty_host, &ia) != 1)
		return -1;
	if (sa) {
		memset(sa, 0, sizeof(*sa));
		sa->sin_family = AF_INET;
		sa->sin_port = htons(port);
		sa->sin_addr = ia;
	}
	return 0;
}
