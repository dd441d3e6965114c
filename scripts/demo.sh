#!/usr/bin/env bash
# Baton's main job on the embedded default (SQLite store, local processes): builds
# baton, sets up a home folder with the example DAGs, runs the scheduler until
# their runs finish, and shows what ran.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DBATON_BUILD_TESTS=OFF

export BATON_HOME="${BATON_HOME:-$PWD/baton-home}"
baton="$PWD/build/cli/baton"

"$baton" db init
cp -n examples/dags/*.toml "$BATON_HOME/dags/" 2>/dev/null || true
echo "== DAGs in $BATON_HOME/dags"
"$baton" dags list

"$baton" scheduler &
scheduler_pid=$!
trap 'kill -TERM $scheduler_pid 2>/dev/null || true; wait $scheduler_pid 2>/dev/null || true' EXIT

for dag_id in example_hello example_trigger_rules; do
  echo "== triggered $dag_id: run $("$baton" dags trigger "$dag_id" --conf '{"who": "demo"}')"
done

# example_etl is scheduled @daily: the scheduler creates its latest run by itself.
echo "== waiting for the runs to finish"
for _ in $(seq 1 120); do
  active=$("$baton" runs list --state running --json)$("$baton" runs list --state queued --json)
  [[ "$active" == "[][]" ]] && break
  sleep 0.5
done

echo "== runs"
"$baton" runs list
"$baton" runs list --json | grep -o '"dag_id":"[^"]*","run_id":"[^"]*"' | sed 's/"dag_id":"\([^"]*\)","run_id":"\([^"]*\)"/\1 \2/' |
  while read -r dag_id run_id; do
    echo "== task states of $dag_id $run_id"
    "$baton" tasks states "$dag_id" "$run_id"
  done
echo "== the log of example_hello's show_environment task"
"$baton" tasks log example_hello "$("$baton" runs list --dag example_hello --json | grep -o '"run_id":"[^"]*"' | head -1 | cut -d'"' -f4)" show_environment || true
echo "== failover: a takeover between two controllers on this machine"
scripts/demo_failover.sh
