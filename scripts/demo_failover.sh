#!/usr/bin/env bash
# A takeover on one machine: two failover controllers ("demo-a" and "demo-b")
# share one SQLite store; the active one starts the scheduler, a DAG run starts,
# then the active controller and its scheduler are killed with SIGKILL. The
# standby takes the lease (a new epoch), starts a scheduler of its own, and the
# run finishes there. Called by scripts/demo.sh after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
baton="$PWD/build/cli/baton"
home="${BATON_HOME:-$PWD/baton-home}/failover-demo"
mkdir -p "$home/dags"
cp examples/failover/example_failover.toml "$home/dags/"
export BATON_HOME="$home"

# The fast profile: lease 4 s, renewed every second, scheduler checked every 2 s.
write_config() {
  cat >"$home/$1.toml" <<TOML
[store]
url = "sqlite:baton.db"

[scheduler]
heartbeat_interval = "1s"
health_threshold = "5s"
kill_grace_period = "5s"

[failover]
node_name = "$1"
nodes = ["demo-a", "demo-b"]
heartbeat_interval = "1s"
lease_ttl = "4s"
poll_frequency = "2s"
scheduler_health_threshold = "5s"
retry_wait = "1s"
pidfile = "scheduler-{node}.pid"
scheduler_log = "scheduler-{node}.log"

# Both "masters" are this machine: their commands run here, without SSH.
[failover.node.demo-a]
local = true

[failover.node.demo-b]
local = true

[logging]
file = "controller-$1.log"
TOML
}
write_config demo-a
write_config demo-b
"$baton" --config "$home/demo-a.toml" db init >/dev/null

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for node in demo-a demo-b; do
    "$baton" --config "$home/$node.toml" failover local_scheduler stop --grace 5s >/dev/null || true
  done
}
trap cleanup EXIT

"$baton" --config "$home/demo-a.toml" failover start &
pids+=($!)
sleep 1.5  # demo-a takes the lease first
"$baton" --config "$home/demo-b.toml" failover start &
pids+=($!)

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "gave up waiting for $what" >&2
  return 1
}
status_json() { "$baton" --config "$home/demo-a.toml" failover status --json; }
scheduler_healthy() { status_json | grep -q '"scheduler_healthy":true'; }

echo "== waiting for the active controller to start a scheduler"
wait_for 30 "a healthy scheduler" scheduler_healthy
"$baton" --config "$home/demo-a.toml" failover status
active=$(status_json | sed 's/.*"active_node":"\([^"]*\)".*/\1/')
config="$home/$active.toml"

run_id=$("$baton" --config "$config" dags trigger example_failover)
echo "== triggered example_failover: run $run_id"
sleep 3

active_pid=${pids[0]}
[[ "$active" == demo-b ]] && active_pid=${pids[1]}
scheduler_pid=$(cut -d' ' -f1 "$home/scheduler-$active.pid")
echo "== kill -9 of the active controller ($active, pid $active_pid) and its scheduler (pid $scheduler_pid)"
killed_at_ms=$(($(date +%s%N) / 1000000))
kill -KILL "$active_pid" "$scheduler_pid"

new_scheduler_started() { status_json | grep -q "\"active_node\":\"$(other_node)\"" && scheduler_healthy; }
other_node() { if [[ "$active" == demo-a ]]; then echo demo-b; else echo demo-a; fi; }
wait_for 60 "the takeover" new_scheduler_started
echo "== $(other_node) took over: its scheduler is healthy $(($(date +%s%N) / 1000000 - killed_at_ms)) ms after the kill"
"$baton" --config "$home/$(other_node).toml" failover metadata

run_finished() { "$baton" --config "$config" runs list --dag example_failover --json | grep -q '"state":"success"'; }
echo "== waiting for run $run_id to finish on the new scheduler"
wait_for 90 "the run to finish" run_finished
"$baton" --config "$config" tasks states example_failover "$run_id"
