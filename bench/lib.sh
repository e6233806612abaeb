# Shared by the one-off bench scripts (profile.sh, gc-trace.sh), sourced after `pids=()`:
# stop_started stops the process groups recorded in `pids` (started with setsid) and waits for them,
# require_free_ports fails when a port is taken, wait_for_ports waits until each answers HTTP.

stop_started() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.2
  done
}

require_free_ports() {
  for port in "$@"; do
    if ss -ltn "sport = :$port" | grep -q LISTEN; then echo "port $port is already in use" >&2; exit 1; fi
  done
}

# wait_for_ports TRIES PORT... (0.2 s between tries)
wait_for_ports() {
  local tries=$1
  shift
  for port in "$@"; do
    for i in $(seq 1 "$tries"); do
      curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/" && break
      sleep 0.2
      [[ $i == "$tries" ]] && { echo "port $port did not come up; see $RUN_DIR" >&2; exit 1; }
    done
  done
}
