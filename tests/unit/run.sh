#!/bin/sh
# Runs each unit-test binary in its own process under a timeout (libuv's rule:
# one crash or hang must not take the other tests with it), prints each file's
# result, and ends with exactly one line "N passed, N failed". A binary that
# crashes, hangs or exits non-zero without reporting a failure counts as one
# failed test. Exit status 1 if anything failed.
T=${XG_UNIT_TIMEOUT:-120}
passed=0
failed=0
for bin in "$@"; do
    name=${bin#*tests/unit/}
    out=$(timeout -k 5 "$T" "$bin" 2>&1)
    rc=$?
    sum=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    p=0
    f=0
    if [ -n "$sum" ]; then
        p=${sum%% passed*}
        f=${sum#*passed, }
        f=${f%% failed}
    fi
    if [ -z "$sum" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
        if [ "$rc" -eq 124 ]; then
            why="timed out after ${T}s"
        elif [ "$rc" -gt 128 ]; then
            why="crashed (signal $((rc - 128)))"
        elif [ "$rc" -ne 0 ]; then
            why="crashed (exit $rc)"
        else
            why="exited without a summary line"
        fi
        f=1
        sum="$why"
    fi
    if [ "$f" -ne 0 ]; then
        printf '%s\n' "$out" | sed 's/^/    | /'
        printf 'FAILED %s: %s\n' "$name" "$sum"
    else
        printf '  %s: %s\n' "$name" "$sum"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
