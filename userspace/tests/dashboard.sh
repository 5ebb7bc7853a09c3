#!/bin/bash
# contrib/grafana/qkd-ipsec.json against a real scrape: every metric its
# PromQL names must be exported by qkd-agent.  The scrape comes from a
# dry-run agent (its dry-run sink emulates the module, so the qkd_module_*
# families are there too; the KME is not needed for the families to be
# declared).  The agent also serves the strongSwan plugin's metrics file:
# here the plugin's own sample (charon-plugin/tests/metrics-sample.prom,
# which the plugin's test_metrics proves is what the plugin writes), so the
# dashboard's qkd_plugin_* names and the agent's filter of that file are
# checked against the plugin's real output.  Then the checker itself: a dashboard naming a metric that does
# not exist must fail.  TAP output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$here/../..
AGENT=${QKD_AGENT:-$here/../agent/qkd-agent}
DASH=${QKD_DASHBOARD:-$top/contrib/grafana/qkd-ipsec.json}
PY=/usr/bin/python3	# Debian's: the python3 on PATH may be a pyenv build
CHECK="$PY $here/dashboard_check.py"
T=$(mktemp -d /tmp/qkd-dash.XXXXXX)
# 61000..64999: above the kernel's ephemeral ports and the other tests' ranges
PORT=${QKD_TEST_PORT4:-$((61000 + ($$ % 2000) * 2))}
pids=() n=0 rc=0
. "$here/lib.sh"
trap cleanup EXIT

"$here/mkcerts.sh" "$T/pki" >/dev/null 2>&1
P=$T/pki
cp "$top/charon-plugin/tests/metrics-sample.prom" "$T/plugin.prom"
cat >"$T/a.conf" <<CONF
[agent]
metrics_listen = 127.0.0.1:$PORT
plugin_metrics = $T/plugin.prom
[link to-b]
kme_url = https://127.0.0.1:$((PORT + 1))
local_sae_id = SAE_A
remote_sae_id = SAE_B
role = master
client_cert = $P/SAE_A.crt
client_key = $P/SAE_A.key
ca_cert = $P/ca.crt
CONF
"$AGENT" --dry-run -c "$T/a.conf" 2>"$T/agent.log" &
pids+=($!)
for _ in $(seq 50); do
	curl -s --max-time 2 "http://127.0.0.1:$PORT/metrics" >"$T/scrape" 2>/dev/null &&
		grep -q '^qkd_module_pool_keys{' "$T/scrape" && break
	sleep 0.1
done
tap 'grep -q "^qkd_module_up 1" "$T/scrape" && grep -q "^qkd_agent_sink_up" "$T/scrape"' \
	"dry-run agent scraped ($(grep -c '^# TYPE' "$T/scrape") metric families)"
tap 'grep -q "^qkd_agent_plugin_metrics_up 1" "$T/scrape" &&
	grep -q "^qkd_plugin_keys_taken_total{role=\"initiator\"} 1$" "$T/scrape" &&
	grep -q "^qkd_xfrm_up" "$T/scrape"' \
	"the agent serves the plugin's sample file ($(grep -c '^qkd_plugin_' "$T/scrape") samples) and the qkd_xfrm_* families"
echo "# $CHECK $DASH scrape"
$CHECK "$DASH" "$T/scrape" | sed 's/^/    /'
tap '[ ${PIPESTATUS[0]} -eq 0 ]' "every metric the dashboard names is exported by the agent"

# the checker fails on a name that is not exported: in a panel, in a
# nested row's panel, and in a query variable
$PY - "$DASH" "$T" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
a = json.loads(json.dumps(d)); a["panels"][1]["targets"][0]["expr"] = 'rate(qkd_module_no_such_metric_total{link="x"}[5m])'
b = json.loads(json.dumps(d)); b["panels"].append({"type": "row", "title": "r", "panels": [
    {"title": "nested", "targets": [{"refId": "A", "expr": "sum by (link) (qkd_agent_bogus)"}]}]})
c = json.loads(json.dumps(d)); c["templating"]["list"][1]["query"]["query"] = "label_values(qkd_nope, link)"
for name, v in (("panel", a), ("nested", b), ("variable", c)):
    json.dump(v, open(f"{sys.argv[2]}/bad-{name}.json", "w"))
PYEOF
for k in panel nested variable; do
	$CHECK "$T/bad-$k.json" "$T/scrape" >"$T/bad-$k.out"; st=$?
	tap '[ $st -ne 0 ] && grep -q "not exported" "$T/bad-$k.out"' \
		"checker fails on an unexported name in a $k ($(grep -o 'missing [a-z_ ]*' "$T/bad-$k.out"))"
done
echo '{"panels": [' >"$T/broken.json"
$CHECK "$T/broken.json" "$T/scrape" >/dev/null; st=$?
tap '[ $st -ne 0 ]' "checker fails on a dashboard that is not valid JSON"
echo "1..$n"
exit $rc
