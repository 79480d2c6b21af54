#!/bin/sh
# make bench: bulletin side by side with what an operator would use
# instead.  The work is bench/bench.pl's; this installs what it needs and
# makes sure no nginx it started outlives it.
#
#   BENCH_QUICK=1 make bench      a short run, to try the machinery

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/build/bench/run"

# the OpenResty variant; bench.pl skips it, saying so, when it is missing
if [ ! -f /usr/lib/nginx/modules/ngx_http_lua_module.so ]; then
    sh "$top/tools/deps.sh" libnginx-mod-http-lua \
        || echo "bench: libnginx-mod-http-lua cannot be installed:" \
                "the Lua variant will be skipped"
fi

for tool in wrk valgrind callgrind_annotate taskset; do
    command -v $tool >/dev/null 2>&1 || {
        echo "bench: $tool is missing (run make, which installs it)" >&2
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
