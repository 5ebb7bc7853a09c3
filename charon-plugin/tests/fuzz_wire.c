/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer harness for the plugin's KE data parser (qkd_wire.c): the
 * peer's bytes, unauthenticated in IKE_SA_INIT.  Each input is parsed as
 * INIT and as RESP (version 1 or 2) from an exactly sized heap copy; whatever parses must
 * encode back to the same bytes, and a RESP is checked against an INIT
 * made from the same input.  make -C charon-plugin fuzz FUZZ_SECONDS=N
 */
#include <stdlib.h>
#include <string.h>

#include "qkd_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1), out[QKD_WIRE_MAX_LEN];
	uint8_t transcript[QKD_WIRE_TRANSCRIPT_MAX];
	struct qkd_wire_msg init, resp;
	int ri, rr;
	size_t n;

	memcpy(buf, data, size);
	ri = qkd_wire_parse(buf, size, QKD_WIRE_INIT, &init);
	rr = qkd_wire_parse(buf, size, QKD_WIRE_RESP, &resp);
	if (ri == QKD_WIRE_OK) {
		n = qkd_wire_encode(&init, out, sizeof(out));
		if (n != size || memcmp(out, buf, size))
			abort();	/* parse and encode disagree */
		n = qkd_wire_init_transcript(&init, transcript,
					     sizeof(transcript));
		if (n && (n != QKD_WIRE_TRANSCRIPT_INIT_LEN ||
			  init.version != QKD_WIRE_VERSION_NEXT))
			abort();	/* only a v2 INIT with a key has one */
	}
	if (rr == QKD_WIRE_OK) {
		n = qkd_wire_encode(&resp, out, sizeof(out));
		if (n != size || memcmp(out, buf, size))
			abort();
		/* an INIT that this RESP may or may not answer */
		memset(&init, 0, sizeof(init));
		init.type = QKD_WIRE_INIT;
		init.version = resp.version;
		memcpy(init.id, resp.id, QKD_WIRE_ID_LEN);
		init.flags = resp.flags & QKD_WIRE_F_NO_KEY;
		init.x25519[0] = 1;
		if (qkd_wire_check_resp(&init, &resp) == QKD_WIRE_OK)
			qkd_wire_transcript(&init, &resp, transcript,
					    sizeof(transcript));
		qkd_wire_uses_key(&resp);
	}
	(void)qkd_wire_strerror(ri);
	(void)qkd_wire_strerror(rr);
	free(buf);
	return 0;
}
