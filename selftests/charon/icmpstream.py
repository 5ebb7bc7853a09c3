# SPDX-License-Identifier: GPL-2.0-or-later
# icmpstream.py SRC DST COUNT INTERVAL [STOPFILE]: a stream of ICMP echo
# requests (84-byte IP packets) from SRC to DST, one every INTERVAL seconds,
# COUNT at most or until STOPFILE exists; counts send errors and replies
# instead of dying on the first failed sendto() as busybox ping does.
# Prints "sent N send_errors N received N [ERROR=COUNT,...]".  Used by
# selftests/charon/e2e-more.sh (s1) and bench/guest.sh (figure 3).
import socket, struct, sys, time, select, os, errno
src, dst, count, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
stop = sys.argv[5] if len(sys.argv) > 5 else None
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.bind((src, 0))
ident = os.getpid() & 0xffff
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
sent = errs = 0; got = set(); errset = {}
def drain(timeout):
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0: return
        r, _, _ = select.select([s], [], [], left)
        if not r: return
        d = s.recv(2048)
        ihl = (d[0] & 15) * 4
        typ, code, _, i, seq = struct.unpack('!BBHHH', d[ihl:ihl + 8])
        if typ == 0 and i == ident: got.add(seq)
nxt = time.monotonic()
for seq in range(count):
    if stop and os.path.exists(stop): break
    payload = b'q' * 56
    h = struct.pack('!BBHHH', 8, 0, 0, ident, seq)
    pkt = struct.pack('!BBHHH', 8, 0, csum(h + payload), ident, seq) + payload
    try:
        s.sendto(pkt, (dst, 0)); sent += 1
    except OSError as e:
        errs += 1; errset[e.strerror] = errset.get(e.strerror, 0) + 1
    nxt += interval
    drain(max(0, nxt - time.monotonic()))
drain(5)
print("sent %d send_errors %d received %d %s" % (sent, errs, len(got), ",".join("%s=%d" % kv for kv in errset.items())))
