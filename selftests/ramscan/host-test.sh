#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host tests of the full-RAM scan's parts (README.md), TAP:
#  - qkd-kms-sim with QKD_KMS_SIM_TEST_SEED hands out exactly the keys
#    and IDs an independent derivation (Python's hmac) gives, counts them,
#    leaves no seed in its environment and refuses a malformed seed;
#  - ramscan_find finds every form of a key planted in a synthetic dump at
#    its offset, and nothing else; refuses bad arguments;
#  - dump-and-scan against a stand-in for QEMU's QMP (fake-qmp.py): the
#    commands in order, the planted key found and its owner named, the
#    dump deleted; without a socket a clear error and nothing left.
# No key is printed or written to a file: Python computes and compares.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SIM=$REPO/userspace/kms-sim/qkd-kms-sim
FIND=$HERE/ramscan_find
T=$(mktemp -d /tmp/qkd-ramscan.XXXXXX)
BASE=$((21000 + ($$ % 1000) * 4))
PA=$BASE PB=$((BASE + 1)) PADM=$((BASE + 2))
n=0 rc=0
SIMPID=
cleanup() {
	[ -n "$SIMPID" ] && kill "$SIMPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
ok() {	# ok STATUS NAME
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; rc=1; fi
}
SEED=$(openssl rand -hex 32)
# key number N as Python derives it, compared in Python (stdin: JSON)
PYDERIVE='
import base64, hashlib, hmac, json, os, sys, uuid
seed = bytes.fromhex(os.environ["SEED"])
def derive(n, size=32):
    idb = bytearray(hmac.new(seed, b"qkd-kms-sim test id" + n.to_bytes(8, "big") + bytes(4), hashlib.sha256).digest()[:16])
    idb[6] = idb[6] & 0x0F | 0x40
    idb[8] = idb[8] & 0x3F | 0x80
    key = b"".join(hmac.new(seed, b"qkd-kms-sim test key" + n.to_bytes(8, "big") + b.to_bytes(4, "big"), hashlib.sha256).digest()
                   for b in range((size + 31) // 32))[:size]
    return str(uuid.UUID(bytes=bytes(idb))), key
'

"$REPO/userspace/tests/mkcerts.sh" "$T/pki"
P=$T/pki
QKD_KMS_SIM_TEST_SEED=$SEED "$SIM" --cert-a "$P/kme.crt" --key-a "$P/kme.key" --ca "$P/ca.crt" \
	--listen-a 127.0.0.1:$PA --listen-b 127.0.0.1:$PB --admin 127.0.0.1:$PADM \
	--initial-keys 16 > "$T/sim.out" 2> "$T/sim.log" &
SIMPID=$!
for _ in $(seq 50); do grep -q ready "$T/sim.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$T/sim.out" && grep -q "TEST ONLY: keys are derived from QKD_KMS_SIM_TEST_SEED" "$T/sim.log"
ok $? "qkd-kms-sim with a test seed starts and says the keys are not random"

get() {	# get SAE PATH: the reply body
	curl -s --max-time 5 --cacert "$P/ca.crt" --cert "$P/$1.crt" --key "$P/$1.key" \
		"https://localhost:$PA/api/v1/keys/$2"
}
get SAE_A "SAE_B/enc_keys?number=3" > "$T/enc.json"
SEED=$SEED python3 -c "$PYDERIVE"'
r = json.load(open(sys.argv[1]))["keys"]
want = [derive(i) for i in range(3)]
got = [(k["key_ID"], base64.b64decode(k["key"])) for k in r]
sys.exit(got != want)' "$T/enc.json"
ok $? "enc_keys: keys 0, 1, 2 and their IDs are those of the independent derivation"
echo "{\"key_IDs\":[{\"key_ID\":\"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][1]["key_ID"])' "$T/enc.json")\"}]}" > "$T/ids.json"
curl -s --max-time 5 --cacert "$P/ca.crt" --cert "$P/SAE_B.crt" --key "$P/SAE_B.key" \
	-H 'Content-Type: application/json' --data @"$T/ids.json" \
	"https://localhost:$PB/api/v1/keys/SAE_A/dec_keys" > "$T/dec.json"
SEED=$SEED python3 -c "$PYDERIVE"'
r = json.load(open(sys.argv[1]))["keys"]
sys.exit([(k["key_ID"], base64.b64decode(k["key"])) for k in r] != [derive(1)])' "$T/dec.json"
ok $? "dec_keys at KME B: the same key 1"
rm -f "$T/enc.json" "$T/dec.json"
[ "$(curl -s "http://127.0.0.1:$PADM/admin/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["test_keys_issued"])')" = 3 ]
ok $? "/admin/status: test_keys_issued 3"
! tr '\0' '\n' < "/proc/$SIMPID/environ" | grep -q "^QKD_KMS_SIM_TEST_SEED=$SEED"
ok $? "the seed is wiped from the simulator's environment"
kill "$SIMPID"; wait "$SIMPID" 2>/dev/null; SIMPID=

QKD_KMS_SIM_TEST_SEED=0123 "$SIM" --cert-a "$P/kme.crt" --key-a "$P/kme.key" --ca "$P/ca.crt" \
	> /dev/null 2> "$T/bad.err"
[ $? = 2 ] && grep -q "QKD_KMS_SIM_TEST_SEED: not 64 hex digits" "$T/bad.err"
ok $? "a malformed seed: exit 2, the variable named ($(cat "$T/bad.err"))"

# a synthetic 1 MiB dump: random bytes with keys planted in each form
SEED=$SEED python3 -c "$PYDERIVE"'
d = bytearray(os.urandom(1 << 20))
def put(off, b): d[off:off + len(b)] = b
put(1000, derive(3)[1]); put(5003, base64.b64encode(derive(5)[1])); put(9000, derive(7)[1][:16])
put(20000, derive(9)[1].hex().encode()); put(25000, derive(10)[1].hex().upper().encode())
put(30000, derive(11)[1][16:]); put(len(d) - 32, derive(2)[1]); put(40000, derive(77)[1])
open(sys.argv[1], "wb").write(d)' "$T/dump"
QKD_KMS_SIM_TEST_SEED=$SEED "$FIND" -x 77 "$T/dump" 12 | sed 's/ id=[^ ]*//' > "$T/found"
cat > "$T/want" <<EOW
copy key=3 form=raw offset=0x3e8
copy key=5 form=base64 offset=0x138b
copy key=7 form=raw-head offset=0x2328
copy key=9 form=hex offset=0x4e20
copy key=10 form=hex offset=0x61a8
copy key=11 form=raw-tail offset=0x7530
copy key=77 form=raw offset=0x9c40
copy key=2 form=raw offset=0xfffe0
searched 12 keys + 1 in 1 MiB: 8 copies
EOW
diff "$T/want" "$T/found" >&2
ok $? "ramscan_find: each planted form found at its offset, a whole key once, nothing else"
QKD_KMS_SIM_TEST_SEED=$SEED "$FIND" "$T/dump" 3 | grep -c '^copy' | grep -qx 1
ok $? "ramscan_find: keys beyond COUNT not searched (COUNT 3: key 2 only)"
rm -f "$T/dump"
QKD_KMS_SIM_TEST_SEED=$SEED "$FIND" /nonexistent 3 2> "$T/e1"; r1=$?
QKD_KMS_SIM_TEST_SEED=$SEED "$FIND" /dev/null 3x 2> "$T/e2"; r2=$?
QKD_KMS_SIM_TEST_SEED=zz "$FIND" /dev/null 3 2> "$T/e3"; r3=$?
[ "$r1$r2$r3" = 222 ] && grep -q "/nonexistent: cannot open" "$T/e1" &&
	grep -q "COUNT '3x': not a number" "$T/e2" && grep -q "QKD_KMS_SIM_TEST_SEED: not 64" "$T/e3"
ok $? "ramscan_find: a missing dump, a bad COUNT, a bad seed: exit 2, each named"
# dump-and-scan against a stand-in for QMP: 64 MiB with key 4 at page 0x123
# (mapped by "charon" pid 77 in owners-t.txt), key 5 beyond COUNT
QMP=$T/qmp.sock
QKD_KMS_SIM_TEST_SEED=$SEED python3 "$HERE/fake-qmp.py" "$QMP" $((64 << 20)) 4 0x123010 "$T/qmp.log" \
	> "$T/qmp.out" &
QMPPID=$!
for _ in $(seq 50); do grep -q ready "$T/qmp.out" 2>/dev/null && break; sleep 0.1; done
mkdir "$T/res"
echo "291 77 charon" > "$T/res/owners-t.txt"	# 291 = 0x123
head -c $(((64 << 20) / 4096 * 8)) /dev/zero > "$T/res/kpageflags-t.bin"
QKD_VM_QMP=$QMP QKD_VM_RES=$T/res QKD_KMS_SIM_TEST_SEED=$SEED "$HERE/dump-and-scan" t 5 9 > "$T/scan.out" 2>&1
r=$?
wait "$QMPPID" 2>/dev/null
dumpfile=$(awk '/^dump .* deleted$/ { print $2 }' "$T/scan.out")
[ $r = 0 ] && grep -q '^copy key=4 .* form=raw offset=0x123010 owner=charon\[77\]$' "$T/scan.out" &&
	grep -q "^total: 1 copies of 1 keys, 5 keys and the decoy's searched" "$T/scan.out" &&
	[ "$(tr '\n' ' ' < "$T/qmp.log")" = "qmp_capabilities query-memory-size-summary stop pmemsave cont " ] &&
	[ -n "$dumpfile" ] && [ ! -e "$dumpfile" ] && [ ! -e "$(dirname "$dumpfile")" ]
ok $? "dump-and-scan: QMP stop, pmemsave, cont; the planted key found at its address, owner named; the dump and its directory deleted"
before=$(ls -d /dev/shm/qkd-ramscan.* 2>/dev/null)
QKD_VM_RES=$T/res QKD_VM_QMP=$T/nosuch.sock QKD_KMS_SIM_TEST_SEED=$SEED "$HERE/dump-and-scan" t 5 > "$T/scan2.out" 2>&1
r=$?
[ $r = 1 ] && grep -q "^dump-and-scan: .*No such file" "$T/scan2.out" &&
	[ "$(ls -d /dev/shm/qkd-ramscan.* 2>/dev/null)" = "$before" ]
ok $? "dump-and-scan without a QMP socket: exit 1, the reason said, nothing left in /dev/shm"
echo "1..$n"
exit $rc
