"""The shipped IAM policies: statically sound (parliament) and granting exactly the actions the playbooks call.

docs/iam-policy.json is for running failovers (playbooks other than setup.yml), docs/iam-policy-setup.json for
playbooks/setup.yml. The actions the playbooks called come from the latest complete run of the integration suite
(tests/integration/conftest.py writes them to .work/iam-actions/); scripts/run_tests.py runs this suite (``iam``)
right after ``integration``. Run it alone with ``scripts/run_tests.py integration iam``.
"""

import glob
import json
import os
import re

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
POLICIES = {
    "docs/iam-policy.json": "run",
    "docs/iam-policy-setup.json": "setup",
    # Opt-in policies, attached besides iam-policy.json only when their feature is used (docs/iam.md).
    "docs/iam-policy-release-failed-host.json": "run",
    "docs/iam-policy-assume-role.json": "run",
}
OPT_IN = {"docs/iam-policy-release-failed-host.json", "docs/iam-policy-assume-role.json"}
SETUP_PLAYBOOKS = {"setup.yml"}
IAM_DOC = os.path.join(REPO_ROOT, "docs", "iam.md")
ACTIONS_DIR = os.environ.get("IAM_ACTIONS_DIR") or os.path.join(REPO_ROOT, ".work", "iam-actions")
# What the playbooks' behaviour depends on: a complete integration run older than any of these is stale.
SOURCES = ("plugins", "roles", "playbooks", os.path.join("tests", "integration"))
# botocore's service names as the simulator logs them (the SigV4 signing name) -> IAM's service prefix.
IAM_PREFIX = {"ec2": "ec2", "dynamodb": "dynamodb", "sns": "sns", "sts": "sts", "sqs": "sqs", "events": "events"}


def load(relative):
    with open(os.path.join(REPO_ROOT, relative), encoding="utf-8") as handle:
        return json.load(handle)


def actions(document):
    """Every action the document allows, as ``service:Action`` (no wildcards are allowed in it)."""
    found = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        found.update([listed] if isinstance(listed, str) else listed)
    return found


def explained_findings():
    """{(policy file, issue, actions)} from the table under "Parliament findings" in docs/iam.md."""
    with open(IAM_DOC, encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## Parliament findings", 1)[1].split("\n## ", 1)[0]
    explained = set()
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("docs/") and cells[3]:
            names = frozenset(name.strip().strip("`").lower() for name in cells[2].split(",") if name.strip())
            explained.add((cells[0], cells[1], names))
    return explained


@pytest.mark.parametrize("relative", sorted(POLICIES))
def test_policy_is_well_formed_with_named_statements_and_no_wildcard_actions(relative):
    document = load(relative)
    assert document["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in document["Statement"]]
    assert len(sids) == len(set(sids))
    for action in actions(document):
        assert re.match(r"^(ec2|dynamodb|sns|sts|sqs|events):[A-Z][A-Za-z]+$", action), action
    for statement in document["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            if resource.startswith("arn:aws:dynamodb:"):
                assert resource == "arn:aws:dynamodb:*:*:table/HostMigrationQueue"
            if resource.startswith("arn:aws:sns:"):
                assert resource == "arn:aws:sns:*:*:host-failover*"
            # The event queue and its rule (setup.yml -e event_queue_name=dedicated-host-health-events).
            if resource.startswith("arn:aws:sqs:"):
                assert resource == "arn:aws:sqs:*:*:dedicated-host-health-events*"
            if resource.startswith("arn:aws:events:"):
                assert resource == "arn:aws:events:*:*:rule/dedicated-host-health-events*"
            if resource == "*":
                # Only actions that AWS cannot scope to a resource get "*".
                assert all(action.split(":")[1].startswith(("Describe", "List")) for action in ([statement["Action"]] if isinstance(
                    statement["Action"], str) else statement["Action"])), statement["Sid"]


def test_parliament_finds_nothing_but_the_findings_docs_iam_md_explains():
    from parliament import analyze_policy_string  # pylint: disable=import-outside-toplevel

    found = set()
    for relative in sorted(POLICIES):
        with open(os.path.join(REPO_ROOT, relative), encoding="utf-8") as handle:
            policy = analyze_policy_string(handle.read(), include_community_auditors=True)
        for finding in policy.findings:
            location = finding.location if isinstance(finding.location, dict) else {}
            names = frozenset(name.lower() for name in location.get("actions", []))
            found.add((relative, finding.issue, names))
    explained = explained_findings()
    assert found - explained == set(), "parliament findings that docs/iam.md does not explain"
    assert explained - found == set(), "docs/iam.md explains findings parliament no longer reports"


def latest_complete_run():
    marker = os.path.join(ACTIONS_DIR, "latest")
    if not os.path.exists(marker):
        pytest.fail("no complete integration run recorded in %s: run `scripts/run_tests.py integration iam`" % ACTIONS_DIR)
    with open(marker, encoding="utf-8") as handle:
        folder = os.path.join(ACTIONS_DIR, handle.read().strip())
    with open(os.path.join(folder, "complete.json"), encoding="utf-8") as handle:
        finished = json.load(handle)["finished"]
    newer = []
    for source in SOURCES:
        for base, _dirs, files in os.walk(os.path.join(REPO_ROOT, source)):
            newer.extend(os.path.join(base, name) for name in files
                         if not name.endswith((".pyc", ".pyo")) and os.path.getmtime(os.path.join(base, name)) > finished)
    if newer:
        pytest.fail("the latest complete integration run is older than %s: run `scripts/run_tests.py integration iam`"
                    % os.path.relpath(sorted(newer)[0], REPO_ROOT))
    return folder


def test_each_policy_grants_exactly_the_actions_its_playbooks_called_in_the_integration_suite():
    folder = latest_complete_run()
    called = {"run": {}, "setup": {}}
    for path in sorted(glob.glob(os.path.join(folder, "*.jsonl"))):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                entry = json.loads(line)
                playbooks = set(entry["playbooks"])
                if playbooks & SETUP_PLAYBOOKS and playbooks - SETUP_PLAYBOOKS:
                    pytest.fail("%s ran setup.yml and other playbooks with one access key: its calls cannot be attributed" % entry["test"])
                kind = "setup" if playbooks <= SETUP_PLAYBOOKS else "run"
                action = "%s:%s" % (IAM_PREFIX.get(entry["service"], entry["service"]), entry["action"])
                called[kind].setdefault(action, entry["test"])
    assert called["run"], "the integration run recorded no playbook call"
    for relative, kind in sorted(POLICIES.items()):
        granted = actions(load(relative))
        if relative not in OPT_IN:  # an opt-in policy adds to its kind's main policy; that pair must cover the calls
            with_opt_ins = granted.union(*[actions(load(extra)) for extra in OPT_IN if POLICIES[extra] == kind])
            missing = dict((action, test) for action, test in called[kind].items() if action not in with_opt_ins)
            assert missing == {}, "%s lacks actions the playbooks called (action: first test)" % relative
        assert sorted(granted - set(called[kind])) == [], "%s grants actions no integration test saw" % relative
