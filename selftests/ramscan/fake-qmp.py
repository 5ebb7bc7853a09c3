#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A stand-in for QEMU's QMP socket, for host-test.sh: answers
qmp_capabilities, query-memory-size-summary (SIZE bytes), stop, cont, and
pmemsave by writing SIZE bytes of zeros with test key number N planted at
physical address ADDR (keys derived from $QKD_KMS_SIM_TEST_SEED as
userspace/common/testkeys.c does).  Logs the commands it got to LOG.

    fake-qmp.py SOCKET SIZE N ADDR LOG
"""
import hashlib
import hmac
import json
import os
import socket
import sys


def key(n):
    seed = bytes.fromhex(os.environ["QKD_KMS_SIM_TEST_SEED"])
    return hmac.new(seed, b"qkd-kms-sim test key" + n.to_bytes(8, "big") + bytes(4),
                    hashlib.sha256).digest()


def main():
    path, size, n, addr, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4], 0), sys.argv[5]
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    print("ready", flush=True)
    c, _ = srv.accept()
    f = c.makefile("rw")
    f.write(json.dumps({"QMP": {"version": {}, "capabilities": []}}) + "\n")
    f.flush()
    with open(log, "w") as lg:
        for line in f:
            req = json.loads(line)
            cmd, args = req["execute"], req.get("arguments", {})
            lg.write(cmd + "\n")
            ret = {}
            if cmd == "query-memory-size-summary":
                ret = {"base-memory": size}
            elif cmd == "pmemsave":
                d = bytearray(args["size"])
                d[addr:addr + 32] = key(n)
                with open(args["filename"], "wb") as out:
                    out.write(d)
            f.write(json.dumps({"return": ret}) + "\n")
            f.flush()


if __name__ == "__main__":
    main()
