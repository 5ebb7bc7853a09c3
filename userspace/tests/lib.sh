# Shared by integration.sh and deviations.sh (sourced): cleanup, TAP,
# metrics, the simulator's admin status.  The caller sets T (its temporary
# directory), pids=() (processes to stop at exit), rc=0 and n=0.

# at exit: stop what was started, drop $T unless KEEP is set
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}

tap() { # cond desc
	n=$((n + 1))
	if eval "$1"; then echo "ok $n - $2"; else echo "not ok $n - $2"; rc=1; fi
}
metric() { # port name{labels}
	curl -s --max-time 3 "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1==k {print $2}'
}
# Sum of a metric over every label set that matches a prefix, e.g.
# msum PORT 'qkd_agent_keys_lost_total{link="l",reason="'
msum() {
	curl -s --max-time 3 "http://127.0.0.1:$1/metrics" |
		awk -v k="$2" 'index($1, k) == 1 {s += $2} END {print s + 0}'
}
ge() { awk -v a="${1:-0}" -v b="$2" 'BEGIN{exit !(a+0 >= b+0)}'; }
between() { awk -v a="${1:--1}" -v lo="$2" -v hi="$3" 'BEGIN{exit !(a+0 >= lo+0 && a+0 <= hi+0)}'; }
# wait until the file holds "ready" (the simulator's stdout)
wait_ready() {
	for _ in $(seq 50); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
# GET an admin path of the simulator at port $1: the HTTP code
adm_at() { curl -s --max-time 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2"; }
# a number from the simulator's /admin/status at port $1
simstat() { curl -s --max-time 3 "http://127.0.0.1:$1/admin/status" | jq -r ".$2"; }
