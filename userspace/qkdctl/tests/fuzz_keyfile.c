// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for qkdctl's key input parser (keyfile.c): what an
 * admin pipes into `qkdctl key inject`.  The input is read whole with
 * keyfile_read() (through fmemopen) and line by line with
 * keyfile_parse_line(), under ASan/UBSan: every input must be refused
 * or accepted without a read out of bounds, a leak or a crash.
 *   make -C userspace/qkdctl fuzz FUZZ_SECONDS=N
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], *line;
	struct key_entry e;
	struct keyfile kf;
	FILE *in;

	in = fmemopen((void *)data, size, "r");
	if (in) {
		memset(&kf, 0, sizeof(kf));
		if (keyfile_read(in, "fuzz", &kf, err, sizeof(err)) == 0)
			keyfile_free(&kf);
		fclose(in);
	}
	line = strndup((const char *)data, size > 1024 ? 1024 : size);
	if (line) {
		line[strcspn(line, "\n")] = '\0';
		keyfile_parse_line(line, &e, err, sizeof(err));
		free(line);
	}
	return 0;
}
