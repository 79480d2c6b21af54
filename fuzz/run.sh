#!/bin/sh
# Runs libFuzzer targets built in build/fuzz/, from the repository's root.
#
#   fuzz/run.sh SECONDS NEW NAME...   each fuzzer for SECONDS: first the
#                                     reproducers of fixed crashes in
#                                     fuzz/crashes/NAME-*, then its corpus
#   fuzz/run.sh merge NAME...         add to fuzz/corpus/NAME/ the inputs
#                                     of build/fuzz/new-NAME/ that cover more
#
# A run reads fuzz/corpus/NAME/ and writes what it finds to
# build/fuzz/NEW-NAME/ (libFuzzer writes to its first corpus folder): a
# run never changes the repository.  NEW is "short" (emptied first, for
# make test) or "new" (kept from run to run, for make fuzz and merge).
# One process a fuzzer: the machine's other core is for other work.
# FUZZ_OPTS adds libFuzzer options.  A crash leaves its input in
# build/fuzz/NAME-crash-* and fails the run.

set -u

out=build/fuzz
opts="-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_OPTS:-}"

if [ "$1" = merge ]; then
    shift

    for name in "$@"; do
        mkdir -p "$out/new-$name"
        "$out/fuzz_$name" -merge=1 "fuzz/corpus/$name" "$out/new-$name" \
            > "$out/merge-$name.log" 2>&1 || {
            cat "$out/merge-$name.log"
            exit 1
        }
        grep 'MERGE-OUTER: .* new files' "$out/merge-$name.log" \
            | sed "s/^MERGE-OUTER:/fuzz_$name:/"
    done

    exit 0
fi

seconds=$1
new=$2
shift 2

for name in "$@"; do
    bin="$out/fuzz_$name"
    log="$out/$name.log"
    dict=""

    [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"

    # fixed crashes first: each must run clean
    crashes=$(ls fuzz/crashes/"$name"-* 2>/dev/null)

    if [ -n "$crashes" ]; then
        # shellcheck disable=SC2086
        "$bin" $opts $crashes > "$log" 2>&1 || {
            cat "$log"
            echo "fuzz_$name: a fixed crash crashes again" >&2
            exit 1
        }
    fi

    [ "$new" = short ] && rm -rf "$out/short-$name"
    mkdir -p "$out/$new-$name"

    # shellcheck disable=SC2086
    "$bin" $opts $dict -max_total_time="$seconds" \
        -artifact_prefix="$out/$name-" "$out/$new-$name" "fuzz/corpus/$name" \
        > "$log" 2>&1 || {
        tail -n 60 "$log"
        echo "fuzz_$name: failed, the input is in $out/$name-crash-*" \
             "(full log: $log)" >&2
        exit 1
    }

    awk -v name="fuzz_$name" '
        /[ \t]DONE[ \t]/ { for (i = 1; i <= NF; i++) {
                       if ($i == "cov:") cov = $(i + 1)
                       if ($i == "ft:") ft = $(i + 1)
                       if ($i == "corp:") corp = $(i + 1)
                   } }
        /^stat::number_of_executed_units:/ { runs = $2 }
        /^stat::average_exec_per_sec:/ { rate = $2 }
        END { printf "%s: %s runs, %s/s, cov %s, ft %s, corpus %s\n",
                     name, runs, rate, cov, ft, corp }' "$log"
done
