"""Integration tests: ansible-playbook runs the collection's playbooks against the simulator.

Each test gets a clean in-process simulator (tests/simulator, the ``simulator`` fixture), loads a
scenario, runs a playbook as a user would (only AWS_ENDPOINT_URL and dummy credentials differ), and
asserts on what the simulator's world, the DynamoDB record and the report files say afterwards.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SIMULATOR_PATH = os.path.join(REPO_ROOT, "tests", "simulator")
if SIMULATOR_PATH not in sys.path:
    sys.path.insert(0, SIMULATOR_PATH)

pytest_plugins = ["dhsim.pytest_plugin"]

# The compatibility suite points this at another ansible-core's virtualenv (scripts/run_tests.py).
ANSIBLE_BIN = os.environ.get("INTEGRATION_ANSIBLE_BIN") or os.path.dirname(sys.executable)
ANSIBLE_PLAYBOOK = os.path.join(ANSIBLE_BIN, "ansible-playbook")
COLLECTIONS_PATH = os.path.join(REPO_ROOT, ".work", "collections")
TABLE = "HostMigrationQueue"
# Fast settings for the simulator's time scale (latencies are a hundredth of AWS's).
FAST = {
    "poll_interval": "0.05",
    "force_stop_after": "1",
    "stop_timeout": "10",
    "start_timeout": "10",
    "failover_lease_seconds": "20",
}


class PlaybookRun:
    """The outcome of one ansible-playbook run."""

    def __init__(self, command, returncode, stdout, stderr, report_dir):
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.report_dir = report_dir

    @property
    def output(self):
        return self.stdout + self.stderr

    def report(self, host_id):
        with open(os.path.join(self.report_dir, "failover-%s.json" % host_id), encoding="utf-8") as handle:
            return json.load(handle)

    def __repr__(self):
        # pytest shortens long assertion messages: lead with the errors, then the end of the output.
        errors = [line for line in self.output.splitlines() if line.startswith(("fatal:", "[ERROR]", "failed:")) or "msg:" in line]
        return "PlaybookRun(rc=%s)\n%s\n--- tail ---\n%s\n%s" % (
            self.returncode, "\n".join(errors[-12:]), self.stdout[-4000:], self.stderr[-2000:])


def task_message(stdout, task):
    """The ``msg`` of the first run of debug task ``task`` ("role : name"), as the default callback prints it (JSON result format)."""
    start = stdout.index(" => {", stdout.index("TASK [%s]" % task)) + len(" => ")
    return json.JSONDecoder().raw_decode(stdout, start)[0]["msg"]


def summary_lines(result):
    """The lines of the health check's printed summary."""
    return task_message(result.stdout, "dedicated_hosts.failover.health_check : Summary")


def playbook_env(simulator, extra=None):
    env = dict(os.environ)
    env.update(simulator.env)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    env.pop("AWS_PROFILE", None)
    env.update(extra or {})
    return env


def start_playbook(simulator, name, extra_vars=None, check=False, env=None, report_dir=None, fast=True, extra_args=()):
    """Start ansible-playbook in the background (``extra_args`` added to its command); returns (Popen, command, report_dir)."""
    variables = dict(FAST if fast else {})
    if report_dir:
        variables["failover_report_dir"] = report_dir
    variables.update(extra_vars or {})
    command = [ANSIBLE_PLAYBOOK, os.path.join(REPO_ROOT, "playbooks", name)]
    for key, value in variables.items():
        command += ["-e", "%s=%s" % (key, value) if isinstance(value, str) else json.dumps({key: value})]
    if check:
        command.append("--check")
    command += list(extra_args)
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=playbook_env(simulator, playbook_credentials(name, env)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return process, command, report_dir


def finish_playbook(started, timeout=300):
    process, command, report_dir = started
    stdout, stderr = process.communicate(timeout=timeout)
    return PlaybookRun(command, process.returncode, stdout, stderr, report_dir)


@pytest.fixture
def run_playbook(simulator, tmp_path):
    """run_playbook(name, extra_vars=None, check=False, env=None) -> PlaybookRun, with reports in tmp_path."""

    def _run(name, extra_vars=None, check=False, env=None, fast=True, timeout=300):
        return finish_playbook(
            start_playbook(simulator, name, extra_vars, check=check, env=env, report_dir=str(tmp_path / "reports"), fast=fast), timeout
        )

    return _run


@pytest.fixture
def migration_table(simulator):
    """The migration table as playbooks/setup.yml makes it (test_setup.py runs the playbook itself)."""
    return create_migration_table(simulator)


def create_migration_table(simulator, region=None):
    """The migration table in ``region`` (default: the simulator's), as playbooks/setup.yml makes it."""
    return make_migration_table(simulator.client("dynamodb", region=region))


def make_migration_table(dynamodb, table=TABLE):
    """A table shaped as playbooks/setup.yml makes the migration table, through the given DynamoDB client."""
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "HostId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "HostId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ExpirationTime"})
    return table


def read_record(simulator, host_id, table=TABLE, region=None):
    from boto3.dynamodb.types import TypeDeserializer  # pylint: disable=import-outside-toplevel

    dynamodb = simulator.client("dynamodb", region=region)
    item = dynamodb.get_item(TableName=table, Key={"HostId": {"S": host_id}}, ConsistentRead=True).get("Item")
    if item is None:
        return None
    deserializer = TypeDeserializer()
    return dict((key, deserializer.deserialize(value)) for key, value in item.items())


def migration_window(record):
    """(first stop, last phase) of the record's instances: ISO 8601 UTC strings compare in time order.

    ``pending`` is left out: it is written when the plan is stored, before anything moves.
    """
    times = [moment for migration in record["InstanceMigrations"].values()
             for phase, moment in migration["phaseTimes"].items() if phase != "pending"]
    return min(times), max(times)


def sns_inbox(simulator, topic_name="host-failover"):
    """(topic ARN, messages()): a topic with an SQS subscriber; messages() returns the SNS envelopes received."""
    sns, sqs = simulator.client("sns"), simulator.client("sqs")
    topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def messages():
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in received]

    return topic_arn, messages


def instance_view(simulator, instance_ids):
    """{instance id: (state, host id, affinity, tenancy)} as EC2 describes it now."""
    result = simulator.client("ec2").describe_instances(InstanceIds=list(instance_ids))
    view = {}
    for reservation in result["Reservations"]:
        for instance in reservation["Instances"]:
            placement = instance.get("Placement", {})
            view[instance["InstanceId"]] = (instance["State"]["Name"], placement.get("HostId"), placement.get("Affinity"), placement.get("Tenancy"))
    return view


STATE_CHANGING = {
    "ec2": {"StopInstances", "StartInstances", "ModifyInstancePlacement", "AllocateHosts", "CreateTags", "DeleteTags", "ReleaseHosts", "ModifyHosts"},
    "dynamodb": {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "CreateTable", "UpdateTimeToLive"},
    "sns": {"Publish", "CreateTopic", "Subscribe"},
}


def state_changing_calls(simulator):
    """{(service, action): count} of every state-changing call the simulator answered."""
    counts = simulator.control.calls()
    found = {}
    for service, actions in STATE_CHANGING.items():
        for action in actions:
            number = counts.get("counts", {}).get(service, {}).get(action, 0)
            if number:
                found[(service, action)] = number
    return found


# --- Which AWS actions the playbooks call -------------------------------------------------------------------------
# docs/iam-policy.json and docs/iam-policy-setup.json must grant exactly the actions the playbooks call in this suite.
# Every playbook runs with an access key of its own (``playbook-<name>`` unless the test passes one), and the key is
# remembered with the playbook's name; after each test the calls the simulator logged under those keys (not the
# tests' own ``testing`` key) are appended to ``.work/iam-actions/<run>/<worker>.jsonl``. The controller marks a run
# complete when it ran the whole directory and passed; tests/iam/test_policy.py (suite ``iam``) compares the
# latest complete run with the policies.
IAM_ACTIONS_DIR = os.environ.get("IAM_ACTIONS_DIR") or os.path.join(REPO_ROOT, ".work", "iam-actions")
_PLAYBOOK_KEYS = {}


def playbook_credentials(name, env=None):
    """``env`` with the playbook's own access key unless the test chose one; remembers which key ran ``name``."""
    env = dict(env or {})
    if not env.get("AWS_ACCESS_KEY_ID"):
        env["AWS_ACCESS_KEY_ID"] = "playbook-" + os.path.splitext(os.path.basename(name))[0]
    _PLAYBOOK_KEYS.setdefault(env["AWS_ACCESS_KEY_ID"], set()).add(os.path.basename(name))
    return env


def pytest_configure(config):
    """Give the run its id before pytest-xdist starts the workers (they get it as ``testrunuid``)."""
    if not hasattr(config, "workerinput") and not getattr(config.option, "testrunuid", None):
        config.option.testrunuid = "%s-%s" % (time.strftime("%Y%m%dT%H%M%S"), uuid.uuid4().hex[:8])


def _iam_run_id(config):
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return workerinput["testrunuid"], workerinput["workerid"]
    return config.option.testrunuid, "main"


@pytest.fixture(autouse=True)
def record_playbook_actions(request):
    """After each test, the (service, action) of every call its playbooks made, with the playbooks' names.

    The log is also read right before anything that clears it (``reset``, ``reset_calls``, ``load_scenario``), so
    calls made before a test resets the log in the middle are counted too.
    """
    _PLAYBOOK_KEYS.clear()
    if "simulator" not in request.fixturenames:
        yield
        return
    control = request.getfixturevalue("simulator").control
    seen = set()

    def harvest():
        if not _PLAYBOOK_KEYS:
            return
        for entry in control.call_log():
            playbooks = _PLAYBOOK_KEYS.get(entry.get("access_key"))
            if playbooks:
                # A transaction is authorised as the actions of its operations (PutItem, ConditionCheckItem, ...).
                for action in entry.get("iam_actions") or [entry["action"]]:
                    seen.add((entry["service"], action, ",".join(sorted(playbooks))))

    def harvesting(method):
        def wrapper(*args, **kwargs):
            harvest()
            return method(*args, **kwargs)
        return wrapper

    for name in ("reset", "reset_calls", "load_scenario"):
        setattr(control, name, harvesting(getattr(control, name)))
    yield
    try:
        harvest()
    except Exception:  # pylint: disable=broad-except
        return  # the server is gone; the test reports its own failure
    if not seen:
        return
    run_id, worker = _iam_run_id(request.config)
    folder = os.path.join(IAM_ACTIONS_DIR, run_id)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, worker + ".jsonl"), "a", encoding="utf-8") as handle:
        for service, action, playbooks in sorted(seen):
            handle.write(json.dumps({"test": request.node.nodeid, "service": service, "action": action,
                                     "playbooks": playbooks.split(",")}) + "\n")


def pytest_sessionfinish(session, exitstatus):
    """On the controller: mark this run complete (whole directory, nothing deselected, passed) for tests/iam."""
    config = session.config
    if hasattr(config, "workerinput"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    whole = all(os.path.abspath(str(arg)) == here for arg in config.args) and not (
        config.option.keyword or config.option.markexpr or getattr(config.option, "deselect", None)
        or getattr(config.option, "lf", False) or getattr(config.option, "last_failed", False))
    run_id, _worker = _iam_run_id(config)
    folder = os.path.join(IAM_ACTIONS_DIR, run_id)
    if not (whole and int(exitstatus) == 0 and os.path.isdir(folder)):
        return
    with open(os.path.join(folder, "complete.json"), "w", encoding="utf-8") as handle_out:
        json.dump({"finished": time.time(), "args": [str(arg) for arg in config.args]}, handle_out)
    with open(os.path.join(IAM_ACTIONS_DIR, "latest"), "w", encoding="utf-8") as handle_out:
        handle_out.write(run_id + "\n")
    for name in os.listdir(IAM_ACTIONS_DIR):  # runs of other days
        path = os.path.join(IAM_ACTIONS_DIR, name)
        if name != run_id and os.path.isdir(path) and os.path.getmtime(path) < time.time() - 86400:
            shutil.rmtree(path, ignore_errors=True)
