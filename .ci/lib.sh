# Shared by the .ci scripts that need the real service running.
# start_service [NAME=value ...]: builds the service, starts it on a free port
# with demo data (plus the given settings), sets SERVICE_URL to its base URL,
# and stops it when the calling script exits.
start_service() {
  _svc_tmp=$(mktemp -d)
  trap 'if [ -n "${_svc_pid:-}" ]; then kill "$_svc_pid" 2>/dev/null || true; wait "$_svc_pid" 2>/dev/null || true; fi; rm -rf "$_svc_tmp"' EXIT
  go build -o "$_svc_tmp/oppconfig-graphql" .
  # JSON logs: their "listening" line gives the port.
  env -u UPSTREAM_URL PORT=0 RATE_LIMIT=0 LOG_FORMAT=json "$@" "$_svc_tmp/oppconfig-graphql" 2>"$_svc_tmp/log" &
  _svc_pid=$!
  local port=""
  for _ in $(seq 100); do
    # addr is a URL a browser opens (http://localhost:PORT for every interface).
    port=$(sed -n 's/.*"msg":"listening","addr":"http:\/\/[^"]*:\([0-9]*\)".*/\1/p' "$_svc_tmp/log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$_svc_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "service did not start:"; cat "$_svc_tmp/log"; return 1; }
  SERVICE_URL="http://127.0.0.1:$port"
}
