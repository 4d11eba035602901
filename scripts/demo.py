"""The demo: a real failover against the simulator, run as an operator would run it.

Starts the simulator with tests/simulator/scenarios/demo.yml (a failed m5 host with running and
stopped instances of several sizes, a reserved host, an unrelated healthy host), creates the table
and the topic with playbooks/setup.yml, prints the plan (check mode), runs playbooks/failover.yml,
shows playbooks/migration_status.yml and the notifications the topic delivered, then the world after.
"""

import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "simulator"))

import boto3  # noqa: E402  pylint: disable=wrong-import-position

from dhsim.__main__ import format_world  # noqa: E402  pylint: disable=wrong-import-position
from dhsim.client import SimulatorControl  # noqa: E402  pylint: disable=wrong-import-position

PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
SCENARIO = os.path.join(ROOT, "tests", "simulator", "scenarios", "demo.yml")
REPORT_DIR = os.environ.get("DEMO_REPORT_DIR") or os.path.join(ROOT, "reports", "demo")
TIME_SCALE = os.environ.get("DEMO_TIME_SCALE", "0.5")
TOPIC_NAME = "host-failover-demo"


def banner(text):
    print("\n" + "=" * 100 + "\n" + text + "\n" + "=" * 100, flush=True)


def start_simulator():
    """The simulator in the background, its output in .work/demo-simulator.log; returns (process, endpoint)."""
    log_path = os.path.join(ROOT, ".work", "demo-simulator.log")
    with open(log_path, "w", encoding="utf-8") as log:
        server = subprocess.Popen(
            [PYTHON, os.path.join(ROOT, "tests", "simulator", "server.py"), "--port", "0", "--scenario", SCENARIO, "--time-scale", TIME_SCALE],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        with open(log_path, encoding="utf-8") as log:
            first = log.readline().strip()
        if first.startswith("AWS_ENDPOINT_URL="):
            return server, first.split("=", 1)[1]
        time.sleep(0.2)
    server.kill()
    sys.exit("the simulator did not start; see %s" % log_path)


def show_world(control):
    world = control.world()
    names = dict((host["name"], host["host_id"]) for host in world["hosts"] if host["name"])
    print(format_world(world, {"hosts": names}), flush=True)
    return world


def environment(endpoint):
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo-secret-not-real",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".work", "collections"),
        ANSIBLE_HOME=os.path.join(ROOT, ".work", "ansible-home"),
        ANSIBLE_DEPRECATION_WARNINGS="0",
        PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ.get("PATH", ""),
    )
    env.pop("AWS_PROFILE", None)
    return env


def playbook(env, name, *args, check=False):
    command = [PLAYBOOK, os.path.join(ROOT, "playbooks", name)] + list(args) + (["--check"] if check else [])
    print("$ " + " ".join(os.path.relpath(part, ROOT) if part.startswith(ROOT) else part for part in command), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def subscribe_queue(endpoint, topic_arn):
    """An SQS queue subscribed to the topic, so the demo can show the notifications."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="demo", aws_secret_access_key="demo-secret-not-real")
    sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="demo", aws_secret_access_key="demo-secret-not-real")
    queue_url = sqs.create_queue(QueueName="host-failover-demo-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return sqs, queue_url


def print_notifications(sqs, queue_url):
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return
        for message in messages:
            body = json.loads(message["Body"])
            print("--- %s\n%s\n" % (body.get("Subject"), body.get("Message")))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def main():
    banner("1. The simulator and the world it built (time scale %s)" % TIME_SCALE)
    server, endpoint = start_simulator()
    try:
        control = SimulatorControl(endpoint)
        print("Simulator at %s" % endpoint)
        world = show_world(control)
        failed_host = next(host["host_id"] for host in world["hosts"] if host["state"] == "permanent-failure")
        env = environment(endpoint)

        banner("2. Set up the migration table and the notification topic")
        if playbook(env, "setup.yml", "-e", "notification_topic_name=" + TOPIC_NAME):
            return 1
        topic_arn = "arn:aws:sns:us-east-1:123456789012:" + TOPIC_NAME
        sqs, queue_url = subscribe_queue(endpoint, topic_arn)

        common = ["-e", "failed_host_id=" + failed_host, "-e", "poll_interval=0.5", "-e", "force_stop_after=4"]
        banner("3. The plan, in check mode: nothing is changed")
        if playbook(env, "failover.yml", *common, check=True):
            return 1

        banner("4. The failover")
        outcome = playbook(env, "failover.yml", *common, "-e", "notification_topic_arn=" + topic_arn, "-e", "failover_report_dir=" + REPORT_DIR)

        banner("5. The migration status")
        playbook(env, "migration_status.yml", "-e", "failed_host_id=" + failed_host)

        banner("6. The notifications the topic delivered")
        print_notifications(sqs, queue_url)

        banner("7. The world after the failover; reports in %s" % os.path.relpath(REPORT_DIR, ROOT))
        show_world(control)
        return outcome
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
