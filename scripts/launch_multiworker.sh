#!/usr/bin/env bash
# Try multi-worker training on one machine: start N `bigmodel train` workers on 127.0.0.1,
# each with its own TF_CONFIG, and wait for all of them.
#
#   scripts/launch_multiworker.sh 2 configs/smoke/cnn.yaml --run-dir runs/smoke_cnn_2workers
#
# Extra arguments go to every worker's `bigmodel train`. Worker 0 is the chief: it writes the
# run directory; the others write to temporary directories they remove. Each output line is
# prefixed with its worker. The exit status is 0 when every worker succeeded; when one fails,
# the others are stopped (they would wait for it forever) and the status is the first failure's.
# BIGMODEL names the command to run (default: .venv/bin/bigmodel if present, else bigmodel);
# BIGMODEL_STOP_GRACE is how long a stopped worker may take before it is killed (10 s).
set -euo pipefail

usage="usage: $0 N CONFIG [bigmodel train arguments...]"
if [[ $# -lt 2 ]] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
    echo "$usage" >&2
    exit 2
fi
workers=$1
config=$2
shift 2
if [[ ! -f $config ]]; then
    echo "error: config not found: $config" >&2
    exit 2
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${BIGMODEL:-} ]]; then
    if [[ -x $repo/.venv/bin/bigmodel ]]; then BIGMODEL=$repo/.venv/bin/bigmodel; else BIGMODEL=bigmodel; fi
fi
read -ra bigmodel_command <<< "$BIGMODEL"  # may be several words: "python -m bigmodel_cli"
python=python3
[[ -x $repo/.venv/bin/python ]] && python=$repo/.venv/bin/python

# N free ports, held open together so that they differ, then released for the workers.
ports=$("$python" - "$workers" <<'EOF'
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for held in sockets:
    held.bind(("127.0.0.1", 0))
print(",".join(f'"127.0.0.1:{held.getsockname()[1]}"' for held in sockets))
EOF
)

declare -A running=()  # pid -> worker index
stop_workers() {
    # TERM lets a worker stop cleanly; one blocked on a vanished peer gets KILL after a while.
    local pid
    for pid in "${!running[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    # Without our pipes: a sleeping killer must not hold the output open after we exit.
    (sleep "${BIGMODEL_STOP_GRACE:-10}"; for pid in "${!running[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true; done) </dev/null >/dev/null 2>&1 &
    killer=$!
}
killer=""
trap 'stop_workers; wait "${!running[@]}" 2>/dev/null; exit 130' INT
trap 'stop_workers; wait "${!running[@]}" 2>/dev/null; exit 143' TERM

for ((index = 0; index < workers; index++)); do
    tf_config="{\"cluster\": {\"worker\": [$ports]}, \"task\": {\"type\": \"worker\", \"index\": $index}}"
    # exec: $! is the worker itself, so it can be stopped and waited for directly.
    ( exec env TF_CONFIG="$tf_config" "${bigmodel_command[@]}" train "$config" "$@" ) \
        > >(sed -u "s/^/[worker $index] /") 2> >(sed -u "s/^/[worker $index] /" >&2) &
    running[$!]=$index
done
echo "started $workers workers on 127.0.0.1 (ports ${ports//\"/}); worker 0 is the chief" >&2

status=0
while ((${#running[@]} > 0)); do
    finished=""
    code=0
    wait -n -p finished "${!running[@]}" || code=$?
    [[ -n $finished ]] || break  # nothing left to wait for
    index=${running[$finished]}
    unset "running[$finished]"
    if ((code != 0 && status == 0)); then
        status=$code
        echo "worker $index failed (exit $code); stopping the others" >&2
        stop_workers
    fi
done
[[ -z $killer ]] || kill "$killer" 2>/dev/null || true
exit "$status"
