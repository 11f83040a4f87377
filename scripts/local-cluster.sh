#!/usr/bin/env bash
# A one-machine Ray cluster with the job server, to try the cluster commands of the README
# without a cloud. Run it, and the commands, under ../shared/tools/loopback-only where Ray
# must not reach the network.
#   scripts/local-cluster.sh up     # head node on 127.0.0.1, dashboard/job server on :8265
#   scripts/local-cluster.sh down   # stops only this cluster (not every Ray on the host)
set -euo pipefail
TEMP_DIR=${KARAOKE_LOCAL_CLUSTER_DIR:-/tmp/karaoke-local-cluster}
DASHBOARD_PORT=${KARAOKE_DASHBOARD_PORT:-8265}
export RAY_USAGE_STATS_ENABLED=0
case "${1:-}" in
  up)
    ray start --head --port=6390 --node-ip-address=127.0.0.1 --temp-dir="$TEMP_DIR" \
      --include-dashboard=true --dashboard-host=127.0.0.1 --dashboard-port="$DASHBOARD_PORT" >/dev/null
    for _ in $(seq 1 60); do   # the job server answers a few seconds after the head starts
      RAY_AUTH_MODE=token ray job list --address "http://127.0.0.1:$DASHBOARD_PORT" >/dev/null 2>&1 && break
      sleep 1
    done
    echo "Ray head on 127.0.0.1:6390, jobs at http://127.0.0.1:$DASHBOARD_PORT (RAY_AUTH_MODE=token)"
    ;;
  down)
    # `ray stop` would stop every Ray on this host; stop the processes of this cluster only:
    # politely first, then for good (gcs_server and raylet can outlive a SIGTERM for a while).
    pattern="--temp-dir=$TEMP_DIR|--temp_dir=$TEMP_DIR|$TEMP_DIR/session"
    pkill -f -- "$pattern" || true
    for _ in $(seq 1 10); do pgrep -f -- "$pattern" >/dev/null || exit 0; sleep 1; done
    pkill -9 -f -- "$pattern" || true
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
