# A local OCI registry for the tests that push (Debian's docker-registry, the CNCF distribution
# registry): plain HTTP on a free loopback port, storage in the test's temp dir.
#   registry_start DIR   sets REGISTRY_ADDR (127.0.0.1:PORT) and REGISTRY_PID
#   registry_stop
registry_start() {
  local dir=$1
  REGISTRY_ADDR=127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<CONF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $dir/data}}
http: {addr: $REGISTRY_ADDR}
CONF
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REGISTRY_PID=$!
  local tries
  for tries in $(seq 100); do
    (exec 3<>"/dev/tcp/${REGISTRY_ADDR%:*}/${REGISTRY_ADDR#*:}") 2>/dev/null && return 0
    kill -0 "$REGISTRY_PID" 2>/dev/null || { cat "$dir/log" >&2; return 1; }
    sleep 0.1
  done
  echo "the registry did not listen on $REGISTRY_ADDR" >&2
  return 1
}

registry_stop() {
  [ -n "${REGISTRY_PID:-}" ] && kill "$REGISTRY_PID" 2>/dev/null && wait "$REGISTRY_PID" 2>/dev/null
  return 0
}
