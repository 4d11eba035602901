"""The scheduling examples (docs/scheduling.md, extensions/scheduling/) parse and point at real playbooks."""

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess

import pytest
from dateutil.rrule import rrulestr

from conftest import REPO_ROOT

SCHEDULING = os.path.join(REPO_ROOT, "extensions", "scheduling")
DOC = os.path.join(REPO_ROOT, "docs", "scheduling.md")
AWX_ASSETS = os.path.join(REPO_ROOT, "extensions", "awx", "assets.json")
# Where the examples install the checkout; the playbook paths they name are relative to it.
INSTALL_DIR = "/opt/dedicated-hosts-failover"
CRON_FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
RRULE = re.compile(r"DTSTART;TZID=[^:\s]+:\d{8}T\d{6} RRULE:[A-Z0-9=;,]+")


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def playbooks_named(command):
    """The playbooks/*.yml paths a command runs, relative to the checkout."""
    return [word for word in shlex.split(command.replace("'", " ")) if re.match(r"^playbooks/[\w.-]+\.ya?ml$", word)]


def check_cron_field(text, low, high):
    for part in text.split(","):
        values, _slash, step = part.partition("/")
        assert not step or (step.isdigit() and int(step) > 0), text
        if values == "*":
            continue
        start, _dash, end = values.partition("-")
        for value in (start, end or start):
            assert value.isdigit() and low <= int(value) <= high, "cron field %r out of %d-%d" % (text, low, high)


def cron_jobs():
    """(schedule fields, user, command) of every job line of the cron file (the /etc/cron.d format)."""
    jobs = []
    for line in read(os.path.join(SCHEDULING, "dedicated-hosts-health-check.cron")).splitlines():
        if not line.strip() or line.startswith("#") or re.match(r"^[A-Z_]+=", line):
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, "a job line needs 5 time fields, a user and a command: %r" % line
        jobs.append((fields[:5], fields[5], fields[6]))
    return jobs


def unit(name):
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(read(os.path.join(SCHEDULING, name)))
    return parser


def test_the_cron_job_runs_the_health_check_every_15_minutes_without_overlapping():
    jobs = cron_jobs()
    assert len(jobs) == 1
    fields, user, command = jobs[0]
    for text, (low, high) in zip(fields, CRON_FIELDS):
        check_cron_field(text, low, high)
    assert fields == ["*/15", "*", "*", "*", "*"]
    assert user == "ansible"
    assert "flock -n" in command and "cd %s &&" % INSTALL_DIR in command
    assert playbooks_named(command) == ["playbooks/health_check.yml"]
    assert all(os.path.isfile(os.path.join(REPO_ROOT, path)) for path in playbooks_named(command))
    assert "%" not in command, "cron turns % into a newline"
    assert command in read(DOC), "docs/scheduling.md shows another cron line than the file"


def test_the_systemd_service_is_a_oneshot_run_of_the_health_check_without_credentials():
    service = unit("dedicated-hosts-health-check.service")
    assert set(service.sections()) == {"Unit", "Service"}
    section = service["Service"]
    assert section["Type"] == "oneshot"
    assert section["WorkingDirectory"] == INSTALL_DIR
    assert section["EnvironmentFile"].startswith("/etc/")
    exec_start = shlex.split(section["ExecStart"])
    assert exec_start[0] == INSTALL_DIR + "/.venv/bin/ansible-playbook"
    assert playbooks_named(section["ExecStart"]) == ["playbooks/health_check.yml"]
    assert os.path.isfile(os.path.join(REPO_ROOT, "playbooks", "health_check.yml"))
    text = read(os.path.join(SCHEDULING, "dedicated-hosts-health-check.service"))
    assert not re.search(r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)|AKIA[0-9A-Z]{16}", text)


def test_the_environment_file_holds_settings_and_no_keys():
    text = read(os.path.join(SCHEDULING, "health-check.env"))
    assert "AWS_REGION=" in text
    assert not re.search(r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)\s*=", text)
    # The cron job sources it with sh: every assignment must be valid shell.
    result = subprocess.run(["sh", "-c", 'set -a; . "$1"; printf "%s\\n" $HEALTH_CHECK_ARGS', "sh",
                             os.path.join(SCHEDULING, "health-check.env")], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["-e", "aws_regions=us-east-1"]


def test_the_systemd_timer_starts_the_service_every_15_minutes():
    timer = unit("dedicated-hosts-health-check.timer")
    assert set(timer.sections()) == {"Unit", "Timer", "Install"}
    assert timer["Timer"]["Unit"] == "dedicated-hosts-health-check.service"
    assert os.path.isfile(os.path.join(SCHEDULING, timer["Timer"]["Unit"]))
    assert timer["Install"]["WantedBy"] == "timers.target"
    calendar = timer["Timer"]["OnCalendar"]
    assert calendar == "*:0/15"
    if shutil.which("systemd-analyze"):
        result = subprocess.run(["systemd-analyze", "calendar", "--iterations=2", calendar], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert "Normalized form: *-*-* *:00/15:00" in result.stdout


def awx_rrules():
    """Every schedule rule of extensions/awx/assets.json (none when the file has no schedules)."""
    if not os.path.isfile(AWX_ASSETS):
        return []
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("rrule"), str):
                found.append(node["rrule"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(read(AWX_ASSETS)))
    return found


@pytest.mark.parametrize("rule", sorted(set(RRULE.findall(read(DOC)))))
def test_every_awx_rrule_in_the_docs_parses(rule):
    schedule = rrulestr(rule)
    first, second = schedule[0], schedule[1]
    assert first.tzinfo is not None, "DTSTART;TZID must give the rule a time zone"
    assert second > first


def test_the_docs_show_a_15_minute_rule_and_the_awx_assets_schedule_the_health_check_the_same_way():
    rules = RRULE.findall(read(DOC))
    every_15 = [rule for rule in rules if rule.endswith("RRULE:FREQ=MINUTELY;INTERVAL=15")]
    assert every_15, rules
    schedule = rrulestr(every_15[0])
    assert (schedule[1] - schedule[0]).total_seconds() == 15 * 60
    for rule in awx_rrules():
        assert RRULE.fullmatch(rule), rule
        assert rrulestr(rule)[0].tzinfo is not None
    assert "playbooks/health_check.yml" in read(DOC)
