#!/usr/bin/env bash
# The end-to-end subset (tests/backends.py) on PostgreSQL and on MongoDB, side by side: the two
# runs share nothing (each its own databases, SecantusDB server and ports), and together take
# about as long as the slower one. Each run's output is printed whole when both are done.
set -u
python=${1:?usage: tests/run_backends.sh PYTHON}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
pids=()
for backend in postgresql mongodb; do
  WAMUX_TEST_BACKEND=$backend "$python" -m pytest -p no:cacheprovider tests/api \
    >"$logs/$backend.log" 2>&1 &
  pids+=($!)
done
for i in 0 1; do
  wait "${pids[$i]}" || status=1
done
for backend in postgresql mongodb; do
  echo "== the end-to-end subset on $backend"
  cat "$logs/$backend.log"
done
exit $status
