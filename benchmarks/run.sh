#!/usr/bin/env bash
# The whole performance suite, one command:  bash benchmarks/run.sh
#
# Builds benchmarks/.venv (peers + server + chart library, separate from the test
# environment), installs micropie-core and every plugin of this repository into it,
# then runs the in-process harness, the instruction counts (valgrind, in-process
# and over HTTP with the server included), the HTTP
# harness (needs wrk and 2+ cores), the memory-sessions harness, the
# sessions-over-HTTP harness (needs redis-server), the cyclic-garbage probe, the
# start-up measurement, and draws results/chart.png + results/latest.md.
# About 17 minutes on 2 cores; QUICK=1 runs short rounds for a smoke check (the
# numbers are then not for quoting).
set -euo pipefail
cd "$(dirname "$0")"

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
packages=(-r requirements.txt -e ..)
for dist in ../plugins/*/; do
    [ -f "${dist}pyproject.toml" ] && packages+=(-e "${dist}")
done
.venv/bin/python -m pip install -qq --disable-pip-version-check "${packages[@]}"
for tool in wrk redis-server valgrind; do
    command -v "$tool" >/dev/null 2>&1 && continue
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
    else
        echo "$tool is required by the benchmarks: apt-get install $tool" >&2
        exit 1
    fi
done

if [ "${QUICK:-0}" = "1" ]; then
    inprocess=(--requests 2000 --rounds 1); http=(--duration 1 --rounds 1)
    sessions=(--duration 1 --rounds 1); garbage=(--requests 50); startup=(--runs 3)
    memory_sessions=(--requests 1000 --rounds 2 --sessions 1000); instructions=(--requests 100)
    instructions_http=(--requests 100)
else
    inprocess=(--requests 20000 --rounds 5); http=(--duration 5 --rounds 3)
    sessions=(--duration 5 --rounds 2); garbage=(--requests 500); startup=(--runs 15)
    memory_sessions=(--requests 5000 --rounds 9 --sessions 100000); instructions=(--requests 1000)
    instructions_http=(--requests 500)
fi
.venv/bin/python inprocess.py "${inprocess[@]}"
.venv/bin/python instructions.py "${instructions[@]}"
.venv/bin/python instructions_http.py "${instructions_http[@]}"
.venv/bin/python over_http.py "${http[@]}"
.venv/bin/python sessions_bench.py "${memory_sessions[@]}"
.venv/bin/python sessions_http.py "${sessions[@]}"
.venv/bin/python gc_garbage.py "${garbage[@]}"
.venv/bin/python startup.py "${startup[@]}"
.venv/bin/python chart.py
