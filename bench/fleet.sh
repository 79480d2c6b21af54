#!/bin/sh
# make bench-fleet: a fleet of three bulletin nodes, Redis and a
# bulletin-sync beside each node, under a paced Zipf load (issue 15).  The
# work is bench/fleet.pl's; this makes sure nothing it started outlives it:
# every nginx under build/bench/fleet/, and the redis-server, sidecars and
# wrk processes whose pid files it keeps in build/bench/fleet/pids/ (each
# stopped only while its pid still runs the program the file names).
#
#   FLEET_QUICK=1 make bench-fleet      a short run, to try the machinery
#   FLEET_SECONDS, FLEET_RATE, FLEET_PAGES, FLEET_CONNS   see fleet.pl

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
fleet="$top/build/bench/fleet"

for tool in wrk redis-server redis-cli; do
    command -v $tool >/dev/null 2>&1 || {
        echo "fleet: $tool is missing (Debian's wrk, redis-server)" >&2
        exit 1
    }
done

# stop $1 if it still runs the program $2 (an nginx binary when $2 is
# empty): a pid reused since is left alone
stop_pid() {
    pid=$1 exe=$2
    kill -0 "$pid" 2>/dev/null || return 0
    now=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
    if [ -n "$exe" ]; then
        [ "$now" = "$exe" ] || return 0
    else
        case "$now" in */nginx) ;; *) return 0 ;; esac
    fi
    kill "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$pid" 2>/dev/null
    return 0
}

cleanup() {
    for pidfile in "$fleet"/pids/wrk-*.pid "$fleet"/pids/sync-*.pid \
                   "$fleet"/pids/redis.pid; do
        [ -f "$pidfile" ] || continue
        read -r pid exe < "$pidfile" && stop_pid "$pid" "$exe"
        rm -f "$pidfile"
    done
    for pidfile in "$fleet"/n*/logs/nginx.pid; do
        [ -f "$pidfile" ] || continue
        read -r pid < "$pidfile" && stop_pid "$pid" ""
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

perl "$top/bench/fleet.pl"
