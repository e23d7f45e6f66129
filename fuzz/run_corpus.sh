#!/bin/sh
# Runs a libFuzzer target for a bounded number of inputs, starting from its seed corpus.
# New inputs go to a temporary directory, never into the source tree.
set -eu
exe=$1 corpus=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exec_status=0
"$exe" -runs=20000 -max_total_time=60 -rss_limit_mb=2048 -timeout=10 "$work" "$corpus" || exec_status=$?
exit $exec_status
