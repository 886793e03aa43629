#!/usr/bin/env bash
# deliver-flood-rss.sh TREE OUT [SECONDS]: the core's peak and final RSS
# while the hostile test adapter (core/pluginhost/testdata/hostile) calls
# Host.Deliver with 50 MB text events, twenty calls at a time, for 30 s.
# TREE is a checkout of leconnect (to compare two commits), OUT a scratch
# directory. It uses ports 18080 (core) and 18089 (LiveEngage emulator).
#
#   bash e2e/testdata/deliver-flood-rss.sh . /tmp/rss-after
set -euo pipefail
tree=$1; out=$2; dur=${3:-30}
mkdir -p "$out"; rm -rf "$out"/state; mkdir -p "$out"/state
(cd "$tree" && go build -o "$out/leconnect" ./core/cmd/leconnect && go build -o "$out/leconnect-hostile" ./core/pluginhost/testdata/hostile/cmd/leconnect-hostile)
chmod 755 "$out"/leconnect*
"$out/leconnect" emulator -account 12345678 -client-id c -client-secret s -listen 127.0.0.1:18089 -webhook http://127.0.0.1:18080/webhooks/liveperson >"$out/emu.log" 2>&1 &
emu=$!
cat >"$out/connector.yaml" <<YAML
server: {listen: 127.0.0.1:18080, public_url: http://127.0.0.1:18080}
liveengage: {account_id: "12345678", client_id: c, client_secret: s, domain_api: http://127.0.0.1:18089}
store: {path: $out/state/leconnect.db}
log: {level: info}
channels:
  - name: bad
    adapter: hostile
    path: $out/leconnect-hostile
    config: {mode: oversize, huge_bytes: 52428800}
YAML
"$out/leconnect" run --config "$out/connector.yaml" >"$out/core.log" 2>&1 &
core=$!
peak=0; t0=$(date +%s)
while [ $(( $(date +%s) - t0 )) -lt "$dur" ]; do
  rss=$(awk '/VmRSS/{print $2}' /proc/$core/status 2>/dev/null || echo 0)
  [ "$rss" -gt "$peak" ] && peak=$rss
  sleep 0.2
done
final=$(awk '/VmRSS/{print $2}' /proc/$core/status)
hwm=$(awk '/VmHWM/{print $2}' /proc/$core/status)
store=$(du -sm "$out/state" | cut -f1)
curl -s 127.0.0.1:18080/metrics | grep -E "^leconnect_(deliver_refused|events_accepted)_total" || true
kill $core; wait $core 2>/dev/null || true
kill $emu; wait $emu 2>/dev/null || true
echo "tree=$tree peak_rss_sampled=$((peak/1024))MiB final_rss=$((final/1024))MiB VmHWM=$((hwm/1024))MiB store=${store}MiB"
