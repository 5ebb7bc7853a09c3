#!/bin/bash
# The units' SystemCallFilter=@system-service against what the daemons
# really call: qkd-agent (master and slave, dry-run) and qkd-kms-sim run a
# key exchange on 127.0.0.1 under strace -f, with a metrics scrape, the
# sd_notify socket, a SIGHUP and a SIGTERM; every system call they made
# must be in @system-service as this machine's systemd expands it
# (systemd-analyze syscall-filter), and the unit files must carry the
# filter.  A seccomp violation kills a daemon at run time (SIGSYS), so this
# is where a new call must show up first.  The netlink sink's calls
# (socket, bind, setsockopt, sendmsg, recvmsg on AF_NETLINK) are in
# @network-io like the ones seen here; the guest tests run that sink.
# Plain builds (no sanitizers: ASan makes calls the daemons do not).
# Then the checker itself: a call outside the set must fail it.  TAP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$here/../..
SIM=$here/../kms-sim/qkd-kms-sim
AGENT=$here/../agent/qkd-agent
PY=/usr/bin/python3
T=$(mktemp -d /tmp/qkd-sys.XXXXXX)
BASE=${QKD_TEST_PORT5:-$((59000 + ($$ % 400) * 5))}
PA=$BASE PB=$((BASE + 1)) PADM=$((BASE + 2)) MA=$((BASE + 3)) MB=$((BASE + 4))
pids=() n=0 rc=0
. "$here/lib.sh"
trap cleanup EXIT

if ! command -v strace >/dev/null || ! strace -f -qq -o /dev/null true 2>/dev/null; then
	echo "1..0 # SKIP strace missing or ptrace not permitted"
	exit 0
fi
"$here/mkcerts.sh" "$T/pki" >/dev/null 2>&1
P=$T/pki
conf() { # FILE LINK ROLE LOCAL REMOTE PORT METRICS
	cat >"$1" <<CONF
[agent]
metrics_listen = 127.0.0.1:$7
[link $2]
kme_url = https://localhost:$6
local_sae_id = $4
remote_sae_id = $5
role = $3
client_cert = $P/$4.crt
client_key = $P/$4.key
ca_cert = $P/ca.crt
low_watermark = 10
high_watermark = 40
poll_interval = 1
CONF
}
conf "$T/a.conf" to-b master SAE_A SAE_B $PA $MA
conf "$T/b.conf" to-a slave SAE_B SAE_A $PB $MB
mkfifo "$T/taken"
: >"$T/sim.out"
strace -f -qq -o "$T/sim.strace" "$SIM" --cert-a "$P/kme.crt" --key-a "$P/kme.key" \
	--ca "$P/ca.crt" --listen-a 127.0.0.1:$PA --listen-b 127.0.0.1:$PB \
	--admin 127.0.0.1:$PADM --key-rate 5120 >>"$T/sim.out" 2>"$T/sim.log" &
SIMPID=$!; pids+=($SIMPID)
wait_ready "$T/sim.out" || sleep 5	# slower under strace
$PY -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(20); s.recv(4096)' "$T/notify.sock" &
pids+=($!)
for _ in $(seq 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000 strace -f -qq -o "$T/b.strace" \
	"$AGENT" -c "$T/b.conf" --dry-run --dry-run-wanted "$T/taken" 2>"$T/b.log" &
BPID=$!; pids+=($BPID)
strace -f -qq -o "$T/a.strace" "$AGENT" -c "$T/a.conf" --dry-run --dry-run-consume 20 \
	--dry-run-taken "$T/taken" 2>"$T/a.log" &
APID=$!; pids+=($APID)
sleep 5
obt=$(metric $MA 'qkd_agent_keys_obtained_total{link="to-b",role="initiator"}')
recv=$(metric $MB 'qkd_agent_key_wanted_total{link="to-a",outcome="received"}')
# signals to the daemons, not to strace (which would kill them, and
# exits with its tracee's status)
ta=$(pgrep -P $APID) tb=$(pgrep -P $BPID) ts=$(pgrep -P $SIMPID)
kill -HUP $ta $tb
sleep 1
kill -TERM $ta $tb; wait $APID; sa=$?; wait $BPID; sb=$?
kill -TERM $ts; wait $SIMPID; ss=$?
tap '[ $sa -eq 0 ] && [ $sb -eq 0 ] && [ $ss -eq 0 ] && ge "$obt" 20 && ge "$recv" 10' \
	"under strace: keys flowed ($obt enc_keys, $recv dec_keys), exits $sa $sb $ss"

# every group of systemd-analyze's listing, expanded recursively
systemd-analyze syscall-filter >"$T/groups" 2>/dev/null
cat >"$T/check.py" <<'PYEOF'
import re, sys
groups, cur = {}, None
for line in open(sys.argv[1]):
    if line.startswith("@"):
        cur = line.split()[0]; groups[cur] = []
    elif cur and line.strip() and not line.strip().startswith("#"):
        groups[cur].append(line.split()[0])
def expand(g, seen=()):
    out = set()
    for m in groups.get(g, []):
        out |= expand(m, seen + (g,)) if m.startswith("@") and m not in seen else {m}
    return out
allowed = expand("@system-service")
call = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)")
used = set()
for f in sys.argv[2:]:
    for line in open(f):
        m = call.match(line)
        if m:
            used.add(m.group(1))
bad = sorted(used - allowed)
print(len(allowed), len(used), " ".join(bad))
sys.exit(1 if bad or not allowed else 0)
PYEOF
for who in sim a b; do
	out=$($PY "$T/check.py" "$T/groups" "$T/$who.strace"); st=$?
	read -r na nu bad <<<"$out"
	name=qkd-agent; [ $who = sim ] && name=qkd-kms-sim
	tap '[ $st -eq 0 ] && ge "$nu" 20' \
		"$name ($who): all $nu system calls it made are in @system-service ($na calls)${bad:+; outside: $bad}"
done
# and no busy loop: the agents wait in poll(2) for their next deadline
# (a deadline that never moved once spun the dry-run agent at 100% CPU,
# about a million polls per second); 20 ticks a second is the dry-run
# takers' rate, a bound of 2000 a second leaves a hundredfold margin
for who in a b; do
	np=$(grep -cE '^[0-9]+ +(poll|epoll_wait)\(' "$T/$who.strace")
	tap '[ "$np" -lt 12000 ]' "qkd-agent ($who) sleeps between deadlines: $np poll/epoll_wait calls in about 6 s"
done
printf '1 reboot(0xfee1dead, 0x28121969) = -1 EPERM\n' >"$T/bad.strace"
out=$($PY "$T/check.py" "$T/groups" "$T/a.strace" "$T/bad.strace"); st=$?
tap '[ $st -eq 1 ] && [ "${out##* }" = reboot ]' "the checker fails on a call outside the set ($out)"
for u in "$top/userspace/agent/qkd-agent.service" "$top/userspace/agent/qkd-agent@.service" \
	 "$top/userspace/kms-sim/qkd-kms-sim.service"; do
	tap 'grep -qx "SystemCallFilter=@system-service" "$u" && grep -qx "SystemCallArchitectures=native" "$u"' \
		"$(basename "$u") has SystemCallFilter=@system-service, SystemCallArchitectures=native"
done
echo "1..$n"
exit $rc
