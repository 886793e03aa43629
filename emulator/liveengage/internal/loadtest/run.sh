#!/usr/bin/env bash
# Load test of the emulator's SEND endpoint with wrk (apt-get install wrk).
# Usage: emulator/liveengage/internal/loadtest/run.sh [duration] [connections] [threads] [conversations]
# Starts the emulator (same flags as `leconnect emulator`), opens N
# conversations with curl, then runs wrk with keep-alive. With WEBHOOKS=1 a
# local sink (./sink) receives every notification, consumer echoes included.
set -euo pipefail
DUR=${1:-10s}; CONNS=${2:-64}; THREADS=${3:-2}; NCONV=${4:-64}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
WORK=$(mktemp -d)
ADDR=127.0.0.1:${PORT:-18089}
ACC=le-load; CID=load-client; SEC=load-secret
cd "$ROOT"
go build -o "$WORK/emulator" ./emulator/liveengage/internal/emulatorcmd
HOOK=()
SINK=
if [ "${WEBHOOKS:-0}" = 1 ]; then
  go build -o "$WORK/sink" ./emulator/liveengage/internal/loadtest/sink
  "$WORK/sink" --listen 127.0.0.1:18090 &
  SINK=$!
  HOOK=(--webhook http://127.0.0.1:18090/hook)
fi
"$WORK/emulator" --listen "$ADDR" --account "$ACC" --client-id "$CID" --client-secret "$SEC" --log-level warn "${HOOK[@]}" &
EMU=$!
trap 'kill $EMU 2>/dev/null; [ -n "$SINK" ] && kill $SINK 2>/dev/null; sleep 0.3; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -fs "http://$ADDR/api/account/$ACC/service/baseURI.json?version=1.0" >/dev/null && break; sleep 0.1; done
APP=$(curl -fs -X POST "http://$ADDR/sentinel/api/account/$ACC/app/token?v=1.0&grant_type=client_credentials&client_id=$CID&client_secret=$SEC" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
{
  echo "app = \"$APP\""
  echo "path = \"/api/account/$ACC/messaging/consumer/conversation/send?v=3\""
  echo "convs = {"
  for i in $(seq "$NCONV"); do
    JWS=$(curl -fs -X POST -H "Authorization: $APP" -H 'Content-Type: application/json' \
      -d "{\"ext_consumer_id\":\"load-$i\"}" "http://$ADDR/api/account/$ACC/consumer?v=1.0" | sed 's/.*"token":"\([^"]*\)".*/\1/')
    CONV=$(curl -fs -X POST -H "Authorization: $APP" -H "X-LP-ON-BEHALF: $JWS" -H 'Content-Type: application/json' \
      -d "[{\"kind\":\"req\",\"id\":\"1\",\"type\":\"userprofile.SetUserProfile\",\"body\":{}},{\"kind\":\"req\",\"id\":\"2\",\"type\":\"cm.ConsumerRequestConversation\",\"body\":{\"brandId\":\"$ACC\"}}]" \
      "http://$ADDR/api/account/$ACC/messaging/consumer/conversation?v=3" | sed 's/.*"conversationId":"\([^"]*\)".*/\1/')
    echo "  {id = \"$CONV\", jws = \"$JWS\"},"
  done
  echo "}"
} > "$WORK/convs.lua"
CONVS_LUA="$WORK/convs.lua" wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency -s "$HERE/send.lua" "http://$ADDR"
if [ -n "$SINK" ]; then
  sleep 2 # let queued webhooks drain before the sink reports
  curl -fs "http://$ADDR/emulator/api/webhooks" | sed 's/"recent".*//'; echo
fi
