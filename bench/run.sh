#!/bin/sh
# make bench: bulletin side by side with what an operator would use
# instead.  The work is bench/bench.pl's; this makes sure no nginx it
# started outlives it.  `make bench` installs what it needs (the
# Makefile's DEB_BENCH: wrk, valgrind, and libnginx-mod-http-lua for the
# OpenResty variant, which bench.pl loads with its own load_module and
# skips, saying so, when it is missing).
#
#   BENCH_QUICK=1 make bench      a short run, to try the machinery

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/build/bench/run"

for tool in wrk valgrind callgrind_annotate taskset; do
    command -v $tool >/dev/null 2>&1 || {
        echo "bench: $tool is missing (run make bench, which installs it)" >&2
        exit 1
    }
done

# every nginx under build/bench/run/ is stopped, whatever happens
cleanup() {
    for pidfile in "$run"/*/logs/nginx.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill -0 "$pid" 2>/dev/null && kill "$pid"
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

perl "$top/bench/bench.pl"
