# SPDX-License-Identifier: GPL-2.0-or-later
# icmpstream.py SRC DST COUNT INTERVAL [STOPFILE]: a stream of ICMP echo
# requests (84-byte IP packets) from SRC to DST, one every INTERVAL seconds,
# COUNT at most or until STOPFILE exists; counts send errors and replies
# instead of dying on the first failed sendto() as busybox ping does.
# Prints "sent N send_errors N received N [ERROR=COUNT,...]".  Used by
# selftests/charon/e2e-more.sh (s1) and bench/guest.sh (figure 3, 1000/s).
# Cheap per packet: the checksum is the header's constant sum plus the
# sequence number, replies are read without blocking whenever the sender
# is behind its schedule, and counted (not kept by sequence number, which
# wraps at 65536).
import errno, os, select, socket, struct, sys, time
src, dst, count, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
stop = sys.argv[5] if len(sys.argv) > 5 else None
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.bind((src, 0))
s.setblocking(False)
try:
    s.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)   # SO_RCVBUFFORCE (root)
except OSError:
    pass
ident = os.getpid() & 0xffff
payload = b'q' * 56
base = 0x0800 + ident + sum(struct.unpack('!28H', payload))
def packet(seq):
    t = base + seq
    t = (t >> 16) + (t & 0xffff); t = (t >> 16) + (t & 0xffff)
    return struct.pack('!BBHHH', 8, 0, ~t & 0xffff, ident, seq) + payload
sent = errs = got = 0; errset = {}
def drain():
    global got
    while True:
        try:
            d = s.recv(2048)
        except BlockingIOError:
            return
        ihl = (d[0] & 15) * 4
        typ, code, _, i, seq = struct.unpack('!BBHHH', d[ihl:ihl + 8])
        if typ == 0 and i == ident: got += 1
def wait(timeout):
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0: return drain()
        r, _, _ = select.select([s], [], [], left)
        if r: drain()
nxt = time.monotonic()
for seq in range(count):
    if stop and seq % 64 == 0 and os.path.exists(stop): break
    try:
        s.sendto(packet(seq & 0xffff), (dst, 0)); sent += 1
    except BlockingIOError:
        errs += 1; errset['EAGAIN'] = errset.get('EAGAIN', 0) + 1
    except OSError as e:
        errs += 1; errset[e.strerror] = errset.get(e.strerror, 0) + 1
    nxt += interval
    now = time.monotonic()
    if nxt > now: wait(nxt - now)
    else: drain()
wait(5)
print("sent %d send_errors %d received %d %s" % (sent, errs, got, ",".join("%s=%d" % kv for kv in errset.items())))
