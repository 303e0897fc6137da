# Shared by tests/s3/s3.sh and tests/az/az.sh (sourced): run a server in the
# background on 127.0.0.1:$port, its pid in $dir/pid and its output in
# $dir/server.log, behind one command line (daemon_main). The caller sets
# port, dir and bin, and defines die, install (the server, once per machine),
# up (start it; print its endpoint) and print_env (the settings that point at
# it).

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# daemon_start NAME CMD...: starts CMD unless something listens on the port,
# and waits up to 30 s for it to listen; a server that does not is stopped.
daemon_start() {
  local name="$1"
  shift
  listening && return 0
  nohup "$@" >"$dir/server.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 300); do listening && return 0; sleep 0.1; done
  kill "$(cat "$dir/pid")" 2>/dev/null || true
  tail -20 "$dir/server.log" >&2
  die "$name did not start (port $port in use?)"
}

# daemon_stop PATTERN: stops the server if the pid file still names a process
# whose command line holds PATTERN (the pid may have been reused), then
# deletes $dir.
daemon_stop() {
  if [[ -f "$dir/pid" ]] && grep -q "$1" "/proc/$(cat "$dir/pid")/cmdline" 2>/dev/null; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

# daemon_main PATTERN ARGS...: the scripts' command line, install|up|down|env;
# `down` stops the server whose command line holds PATTERN.
daemon_main() {
  local pattern="$1"
  shift
  case "${1:-}" in
    install)
      install
      echo "$bin"
      ;;
    up) up ;;
    down) daemon_stop "$pattern" ;;
    env) print_env ;;
    *) die "usage: $(basename "$0") install|up|down|env" ;;
  esac
}
