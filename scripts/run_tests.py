"""Run every test suite of the collection, print each suite's result and time, exit non-zero on any failure.

Usage: run_tests.py [SUITE ...]   (default: all suites, in the order below)
A pytest run that collects no test counts as a failure.

installed the release tarball installed with its dependencies into an empty collections path, every playbook run by
         FQCN from a neutral folder with Ansible's defaults (no ansible.cfg of this repository) against the simulator
targets  ``ansible-test integration``: the targets of tests/integration/targets/ (a failover against the simulator),
         from a mirror of the collection under .work/ansible-test/ansible_collections/
eda      setup.yml creates the event queue and the AWS Health rule in the simulator; an AWS Health event put to its
         EventBridge reaches the queue, and ansible-rulebook (.work/venv-eda, Java 17) with the rulebook of extensions/eda
         fails its host over through the health check
iam      docs/iam-policy*.json: parliament's findings, and the actions equal those the playbooks called in the
         latest complete integration run (run it after ``integration``; see docs/iam.md)
compat   the integration tests marked ``compat``, with ansible-playbook from the oldest supported ansible-core
         (.work/venv-core-2.17, made by scripts/bootstrap.sh); pytest itself runs in .venv
molecule ``molecule test --all``: the scenarios of the roles (extensions/molecule/host_failover, health_check) against
         the simulator
changelog ``antsibull-changelog lint``: every fragment of changelogs/fragments/ is well formed
docsite  ``antsibull-docs lint-collection-docs``: docs/docsite/ (links.yml, extra-docs.yml and the pages of the guides,
         which scripts/docsite.py writes; a unit test checks they are up to date)
"""

import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
COLLECTIONS = os.path.join(ROOT, ".work", "collections")
COLLECTION_DIR = os.path.join(COLLECTIONS, "ansible_collections", "dedicated_hosts", "failover")
# ansible-test needs the collection physically below ansible_collections/ (it resolves symlinks), so
# sanity and the integration targets run on a mirror of the files git tracks or would track, beside links to the
# dependencies.
ANSIBLE_TEST_TREE = os.path.join(ROOT, ".work", "ansible-test", "ansible_collections")
ANSIBLE_TEST_DIR = os.path.join(ANSIBLE_TEST_TREE, "dedicated_hosts", "failover")
PYTHON = os.path.join(VENV_BIN, "python")
COMPAT_ANSIBLE_BIN = os.path.join(ROOT, ".work", "venv-core-2.17", "bin")
PYTEST_NO_TESTS = 5


def _env(extra=None):
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    env.setdefault("ANSIBLE_DEPRECATION_WARNINGS", "0")
    env.setdefault("ANSIBLE_HOME", os.path.join(ROOT, ".work", "ansible-home"))
    # No real AWS account is ever reached: tests point at the simulator with dummy credentials.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    env["AWS_ACCESS_KEY_ID"] = "testing"
    env["AWS_SECRET_ACCESS_KEY"] = "testing"
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    env.update(extra or {})
    return env


def _mirror_for_ansible_test():
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode().split("\0")
    if os.path.isdir(ANSIBLE_TEST_DIR):
        shutil.rmtree(ANSIBLE_TEST_DIR)
    for relative in filter(None, listed):
        source = os.path.join(ROOT, relative)
        if not os.path.isfile(source):
            continue  # deleted in the work tree but still in the index
        target = os.path.join(ANSIBLE_TEST_DIR, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
    # The mirror lies inside this checkout's ignored .work/; a repository of its own makes ansible-test
    # list the mirror's files rather than the checkout's.
    subprocess.run(["git", "init", "-q"], cwd=ANSIBLE_TEST_DIR, check=True)
    subprocess.run(["git", "add", "-A"], cwd=ANSIBLE_TEST_DIR, check=True)
    for namespace in ("amazon", "community"):
        link = os.path.join(ANSIBLE_TEST_TREE, namespace)
        if not os.path.islink(link):
            os.symlink(os.path.join(COLLECTIONS, "ansible_collections", namespace), link)


def _sanity():
    _mirror_for_ansible_test()
    return [os.path.join(VENV_BIN, "ansible-test"), "sanity", "--python", "3.11", "--color", "no"]


def _targets():
    # ansible-test's own integration targets (tests/integration/targets/), beside the pytest suites of tests/integration/.
    _mirror_for_ansible_test()
    return [os.path.join(VENV_BIN, "ansible-test"), "integration", "--python", "3.11", "--color", "no"]


def _pytest(*paths, workers=2):
    return [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers)] + list(paths)


def _compat():
    if not os.access(os.path.join(COMPAT_ANSIBLE_BIN, "ansible-playbook"), os.X_OK):
        raise SuiteError("%s/ansible-playbook is missing: run scripts/bootstrap.sh" % os.path.relpath(COMPAT_ANSIBLE_BIN, ROOT))
    return _pytest("tests/integration", "-m", "compat")


def _molecule():
    # Run from the collection's root: molecule then reads its scenarios from extensions/molecule/.
    return [os.path.join(VENV_BIN, "molecule"), "test", "--all"]


class SuiteError(Exception):
    """A suite that cannot start."""


SUITES = [
    ("unit", lambda: _pytest("tests/unit"), ROOT),
    ("simulator", lambda: _pytest("tests/simulator"), ROOT),
    # An integration test spends about half its time waiting on the simulator's latencies: a third worker keeps
    # two cores busy.
    ("integration", lambda: _pytest("tests/integration", workers=3), ROOT),
    ("installed", lambda: _pytest("tests/installed"), ROOT),
    ("targets", _targets, ANSIBLE_TEST_DIR),
    ("eda", lambda: _pytest("tests/eda", workers=1), ROOT),
    ("iam", lambda: _pytest("tests/iam"), ROOT),
    ("compat", _compat, ROOT),
    ("molecule", _molecule, ROOT),
    ("sanity", _sanity, ANSIBLE_TEST_DIR),
    ("lint", lambda: [os.path.join(VENV_BIN, "ansible-lint"), "--offline", "--profile", "production", "-q"], COLLECTION_DIR),
    ("changelog", lambda: [os.path.join(VENV_BIN, "antsibull-changelog"), "lint"], ROOT),
    ("docsite", lambda: [os.path.join(VENV_BIN, "antsibull-docs"), "lint-collection-docs", "--check-extra-docs-refs", "."], ROOT),
]
# Environment a suite needs on top of _env(): the compat suite's playbooks run on the oldest supported ansible-core
# (tests/integration/conftest.py takes ansible-playbook from INTEGRATION_ANSIBLE_BIN).
SUITE_ENV = {
    "compat": {"INTEGRATION_ANSIBLE_BIN": COMPAT_ANSIBLE_BIN},
    "molecule": {"NO_COLOR": "1"},
}


def run_suite(name, command, cwd):
    print("=== %s: %s" % (name, " ".join(os.path.relpath(part, ROOT) if part.startswith(ROOT) else part for part in command)), flush=True)
    started = time.monotonic()
    returncode = subprocess.call(command, cwd=cwd, env=_env(SUITE_ENV.get(name)))
    elapsed = time.monotonic() - started
    if returncode == PYTEST_NO_TESTS and "pytest" in command:
        print("=== %s: no tests ran, which counts as a failure" % name, flush=True)
    return returncode, elapsed


def main(argv):
    wanted = argv[1:] or [name for name, _command, _cwd in SUITES]
    unknown = set(wanted) - set(name for name, _command, _cwd in SUITES)
    if unknown:
        print("unknown suite(s): %s" % ", ".join(sorted(unknown)), file=sys.stderr)
        return 2
    results = []
    for name, command, cwd in SUITES:
        if name in wanted:
            try:
                returncode, elapsed = run_suite(name, command(), cwd)
            except SuiteError as exc:
                print("=== %s: %s" % (name, exc), flush=True)
                returncode, elapsed = 1, 0.0
            results.append((name, returncode, elapsed))
    print("\n%-12s %-8s %8s" % ("suite", "result", "seconds"))
    for name, returncode, elapsed in results:
        print("%-12s %-8s %8.1f" % (name, "passed" if returncode == 0 else "FAILED", elapsed))
    failed = [name for name, returncode, _elapsed in results if returncode != 0]
    passed = len(results) - len(failed)
    print("\nsuites: %d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
