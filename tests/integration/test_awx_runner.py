"""The failover and the health check run as AWX runs a job: through ansible-runner, against the simulator.

AWX hands each job to ansible-runner (pinned in requirements-test.txt) as a private data directory: the git
project checked out in ``project/``, the inventory in ``inventory/``, the survey's answers in ``env/extravars``
(strings, also for booleans and numbers), the credential's environment in ``env/envvars``, runner's settings in
``env/settings`` and the template's options in ``env/cmdline``. It reads back the job's status and rc and the
``set_stats`` data of the stats event (``artifact_data``), which a workflow hands to the nodes after it. Here
the project is this repository's playbooks and ansible.cfg, and .work/collections stands in for the execution
environment's collections. Cancelling a job is ansible-runner's cancel callback returning true: ansible-runner
then kills the process group of ansible-playbook (SIGKILL) and AWX the job's container, so the job leaves what
docs/guarantees.md promises of a killed run ("Crash and resume"), and relaunching the template finishes the
failover.
"""

import json
import os
import shutil
import signal
import time
import uuid

import ansible_runner

from conftest import ANSIBLE_BIN
from conftest import FAST
from conftest import REPO_ROOT
from conftest import instance_view
from conftest import playbook_credentials
from conftest import playbook_env
from conftest import read_record
from scenarios import failed_host
from scenarios import load
from scenarios import on_host
from scenarios import pool_host
from scenarios import world
from support_runs import LEASE_FIELDS
from support_runs import assert_record_consistent
from support_runs import key_calls
from test_awx_assets import FAILOVER_PLAYBOOK
from test_awx_assets import load_assets
from test_awx_assets import HEALTH_PLAYBOOK
from test_awx_assets import launch_variables
from test_awx_assets import templates_by_playbook
from test_cancel import SLOW
from test_cancel import stopped_by

# AWX polls for a cancel every few seconds (pexpect_timeout); one second keeps the test short.
RUNNER_SETTINGS = {"pexpect_timeout": 1, "suppress_ansible_output": True}
# ansible-runner's status and rc of a job its cancel callback ended.
CANCELED = ("canceled", 254)


def job_folder(simulator, tmp_path, ident, template, extravars, access_key):
    """The private data directory AWX writes for a job of ``template``; returns its path."""
    folder = tmp_path / ident
    shutil.copytree(os.path.join(REPO_ROOT, "playbooks"), folder / "project" / "playbooks")
    shutil.copy(os.path.join(REPO_ROOT, "ansible.cfg"), folder / "project")
    (folder / "inventory").mkdir()
    # The assets' inventory: localhost, local connection (the interpreter is the one that has boto3).
    (folder / "inventory" / "hosts").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % os.path.join(ANSIBLE_BIN, "python"))
    (folder / "env").mkdir()
    # What the credential and the execution environment give the job, beyond the environment runner inherits.
    environment = playbook_env(simulator, playbook_credentials(template["playbook"], {"AWS_ACCESS_KEY_ID": access_key}))
    envvars = dict((name, value) for name, value in environment.items() if os.environ.get(name) != value)
    # ansible-playbook of the execution environment (runner finds it on the job's PATH).
    envvars["PATH"] = os.pathsep.join([ANSIBLE_BIN, os.environ.get("PATH", "")])
    envvars["JOB_ID"] = str(uuid.uuid4().int % 10 ** 9)  # AWX numbers its jobs
    (folder / "env" / "envvars").write_text(json.dumps(envvars))
    (folder / "env" / "extravars").write_text(json.dumps(extravars))
    (folder / "env" / "settings").write_text(json.dumps(RUNNER_SETTINGS))
    (folder / "env" / "cmdline").write_text("--forks %d" % template["forks"])
    return folder


def kill_job_processes(job_id):
    """SIGKILL every process of the job (its environment has the job's JOB_ID); returns the pids killed."""
    killed = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/environ" % pid, "rb") as handle:
                environment = handle.read().split(b"\0")
            if ("JOB_ID=%s" % job_id).encode() in environment:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
        except (OSError, ProcessLookupError):
            continue  # gone meanwhile, or not ours to read
    return killed


def run_job(simulator, tmp_path, ident, template, extravars, access_key, cancel_callback=None):
    """Run a job of ``template`` as AWX does; returns (runner result, the set_stats data it published)."""
    folder = job_folder(simulator, tmp_path, ident, template, extravars, access_key)
    result = ansible_runner.run(private_data_dir=str(folder), playbook=template["playbook"], ident=ident, cancel_callback=cancel_callback, quiet=True)
    # What AWX stores as the job's status and rc: the artifacts runner wrote, the same as its result.
    artifacts = folder / "artifacts" / ident
    assert ((artifacts / "status").read_text(), int((artifacts / "rc").read_text())) == (result.status, result.rc)
    stats = [event for event in result.events if event["event"] == "playbook_on_stats"]
    return result, (stats[0]["event_data"]["artifact_data"] if stats else None)


def output_of(result):
    return result.stdout.read()[-6000:]


def strings(variables):
    """Survey answers as AWX sends them: strings (lists and dictionaries, artifacts, stay as they are)."""
    return dict((name, value if isinstance(value, (list, dict)) else str(value)) for name, value in variables.items())


def test_the_health_check_and_the_failover_run_through_ansible_runner_and_hand_their_artifacts_on(
        simulator, migration_table, tmp_path):
    assets = load_assets()
    ids = load(simulator, world([failed_host("broken"), pool_host("pool")], [on_host("broken", "web", count=2)]))
    broken = ids["hosts"]["broken"]
    templates = templates_by_playbook(assets)
    (workflow,) = assets["workflow_job_templates"]
    nodes = dict((node["identifier"], node) for node in workflow["related"]["workflow_nodes"])

    scan, scan_artifacts = run_job(simulator, tmp_path, "health-check", templates[HEALTH_PLAYBOOK], strings(launch_variables(
        templates[HEALTH_PLAYBOOK], nodes["health-check"]["extra_data"], {"aws_regions": "us-east-1"})), "awx-health-check")

    assert (scan.status, scan.rc) == ("successful", 0), output_of(scan)
    assert scan_artifacts["failed_host_ids"] == [broken]
    assert scan_artifacts["failed_host_regions"] == {broken: "us-east-1"}
    assert scan_artifacts["health_check_summary"]["counts"]["failed"] == 1
    assert not stopped_by(simulator, "awx-health-check")

    # The failover node gets the survey's defaults, the node's data and the health check's artifacts; the
    # simulator's time scale needs the fast timings, sent as strings as a survey would.
    variables = launch_variables(templates[FAILOVER_PLAYBOOK], nodes["fail-over-failed-hosts"]["extra_data"], scan_artifacts, FAST)
    assert variables["force"] == "false" and "failed_host_id" not in variables
    moved, moved_artifacts = run_job(simulator, tmp_path, "failover", templates[FAILOVER_PLAYBOOK], strings(variables), "awx-failover")

    assert (moved.status, moved.rc) == ("successful", 0), output_of(moved)
    assert moved_artifacts["failover_outcomes"] == {broken: "succeeded"}
    assert moved_artifacts["failover_failed_instances"] == []
    record = read_record(simulator, broken)
    assert record["State"] == "complete"
    assert_record_consistent(record)
    view = instance_view(simulator, ids["instances"].values())
    assert [view[ids["instances"][name]][:2] for name in ("web-0", "web-1")] == [("running", ids["hosts"]["pool"])] * 2


def test_a_job_cancelled_through_ansible_runner_is_killed_and_the_relaunch_finishes_the_failover(
        simulator, migration_table, tmp_path):
    ids = load(simulator, world([failed_host(), pool_host()], [on_host("failed", "web", count=4, system_status="ok")], latency=SLOW))
    failed, instances = ids["hosts"]["failed"], ids["instances"]
    failover = templates_by_playbook(load_assets())[FAILOVER_PLAYBOOK]
    answers = strings(dict(FAST, failed_host_id=failed, failover_concurrency=1, force_stop_after=30, poll_interval=0.1))

    # AWX's cancel: the callback answers true once the job is moving instances (its first stop was sent).
    cancelled, cancelled_artifacts = run_job(
        simulator, tmp_path, "cancelled", failover, strings(launch_variables(failover, answers)), "awx-cancelled",
        cancel_callback=lambda: bool(stopped_by(simulator, "awx-cancelled")))

    assert (cancelled.status, cancelled.rc) == CANCELED, output_of(cancelled)
    assert cancelled_artifacts is None  # killed: no stats event, nothing for a workflow to hand on
    # ansible-runner killed ansible-playbook's process group, but ansible-core's workers run in sessions of their own,
    # so the worker and its module are still moving instances; AWX's execution environment container goes with the
    # job, so kill the job's remaining processes as the container's end does.
    assert kill_job_processes(cancelled.config.env["JOB_ID"])
    # A request already on the wire when the processes died is still answered (and logged) by the simulator.
    time.sleep(0.5)
    calls_at_kill = len(key_calls(simulator, "awx-cancelled"))
    time.sleep(2)
    assert key_calls(simulator, "awx-cancelled")[calls_at_kill:] == []
    stopped = stopped_by(simulator, "awx-cancelled")
    record = read_record(simulator, failed)
    # Killed mid-move: the record is left processing under the killed run's lease, which a relaunch must take over.
    assert record["State"] == "processing" and record["LeaseRunId"] == record["RunId"], record
    assert stopped and len(stopped) < len(instances), stopped
    view = instance_view(simulator, instances.values())
    # Nothing it had not begun to move was touched: still running on the failed host.
    untouched = [instance_id for instance_id in instances.values() if instance_id not in stopped]
    assert untouched and all(view[instance_id][:2] == ("running", failed) for instance_id in untouched), view

    # The operator relaunches with break_lock (docs/guarantees.md: the job is known to be gone), every instance at once.
    relaunch = strings(dict(FAST, failed_host_id=failed, break_lock="true"))
    relaunched, relaunched_artifacts = run_job(simulator, tmp_path, "relaunched", failover, strings(launch_variables(failover, relaunch)),
                                               "awx-relaunched")

    assert (relaunched.status, relaunched.rc) == ("successful", 0), output_of(relaunched)
    assert relaunched_artifacts["failover_outcomes"] == {failed: "succeeded"}
    record = read_record(simulator, failed)
    assert record["State"] == "complete"
    assert_record_consistent(record)
    assert not [name for name in LEASE_FIELDS if record.get(name) not in (None, "")]
    view = instance_view(simulator, instances.values())
    assert all(view[instance_id][:2] == ("running", record["Plan"][instance_id]) for instance_id in instances.values()), (
        view, record["Plan"])
    # No instance moved twice: the relaunch stopped none the cancelled job had stopped.
    assert not stopped & stopped_by(simulator, "awx-relaunched")
    assert key_calls(simulator, "awx-relaunched", actions=("AllocateHosts",)) == []
