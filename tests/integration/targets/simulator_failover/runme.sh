#!/usr/bin/env bash
# Fail one Dedicated Host over against the simulator, as an operator would: the demo's world
# (tests/simulator/scenarios/demo.yml) on a free loopback port, the setup playbook, then failover.yml
# (the failover playbook by FQCN between a play that reads the world and one that asserts the outcome).
set -euo pipefail

# ansible-test runs this from a copy of the target; the collection under test (with the simulator in its tests/)
# is the one on the collections path it sets.
collection_root="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/dedicated_hosts/failover"
python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
simulator_log="$(mktemp)"

"$python" "$collection_root/tests/simulator/server.py" --host 127.0.0.1 --port 0 \
    --scenario "$collection_root/tests/simulator/scenarios/demo.yml" --time-scale 0.01 > "$simulator_log" 2>&1 &
simulator_pid=$!

stop_simulator() {
    kill -TERM "$simulator_pid" 2> /dev/null || true
    wait "$simulator_pid" 2> /dev/null || true
    rm -f "$simulator_log"
}
trap stop_simulator EXIT

endpoint=""
for _ in $(seq 300); do
    endpoint="$(sed -n 's/^AWS_ENDPOINT_URL=//p' "$simulator_log")"
    [[ -n "$endpoint" ]] && break
    if ! kill -0 "$simulator_pid" 2> /dev/null; then
        cat "$simulator_log" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$endpoint" ]]; then
    echo "the simulator announced no endpoint in 30 s" >&2
    cat "$simulator_log" >&2
    exit 1
fi

# Only the endpoint and dummy credentials differ from a run against AWS.
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

ansible-playbook dedicated_hosts.failover.setup "$@"
ansible-playbook failover.yml "$@"
