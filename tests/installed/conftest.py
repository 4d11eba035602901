"""The installed suite: the collection as Galaxy and AWX users get it, run against the simulator.

Once per session (per pytest-xdist worker) the release tarball is built and installed, with its dependencies, into
the empty default collections path of a fresh home folder. Offline: amazon.aws and community.aws are offered to
ansible-galaxy as directory sources from the checkout's .work/collections (scripts/bootstrap.sh), so galaxy.yml's
dependency ranges are resolved against them as Galaxy would resolve them. Every playbook then runs by its FQCN from an
empty folder, with nothing of this repository's ansible.cfg: Ansible's defaults (forks 5, the default callback and its
JSON result format); only the simulator's endpoint, dummy credentials and the region are set.

The helpers of the integration suite (tests/integration/conftest.py) are reused, loaded under their own module name.
"""

import json
import os
import subprocess
import sys

import pytest

INTEGRATION_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration")
if INTEGRATION_PATH not in sys.path:
    sys.path.insert(0, INTEGRATION_PATH)  # scenarios.py

from reuse import integration_helpers  # noqa: E402  pylint: disable=wrong-import-position

integration = integration_helpers()  # also puts tests/simulator on sys.path for the plugin below

pytest_plugins = ["dhsim.pytest_plugin"]

ANSIBLE_BIN = integration.ANSIBLE_BIN
REPO_ROOT = integration.REPO_ROOT
DEPENDENCIES = os.path.join(integration.COLLECTIONS_PATH, "ansible_collections")
PlaybookRun = integration.PlaybookRun
FAST = integration.FAST
TABLE = integration.TABLE
instance_view = integration.instance_view
migration_table = integration.migration_table  # the fixture
read_record = integration.read_record
state_changing_calls = integration.state_changing_calls
summary_lines = integration.summary_lines
task_message = integration.task_message
# Output settings only; nothing that changes what runs or how results are formatted.
KEPT_ANSIBLE_SETTINGS = ("ANSIBLE_NOCOLOR", "ANSIBLE_FORCE_COLOR")


def _galaxy(arguments, cwd, env):
    completed = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-galaxy")] + arguments, cwd=cwd, env=env, capture_output=True, text=True,
                               check=False)
    assert completed.returncode == 0, "ansible-galaxy %s failed:\n%s\n%s" % (" ".join(arguments), completed.stdout, completed.stderr)
    return completed


class Installation:
    """A fresh home folder whose ~/.ansible/collections holds the installed collection and its dependencies."""

    def __init__(self, home, tarball, install_output):
        self.home = home
        self.tarball = tarball
        self.install_output = install_output
        self.collections = os.path.join(home, ".ansible", "collections", "ansible_collections")

    def env(self, simulator, extra=None):
        """The environment of a user's shell: no ANSIBLE_* setting, this home, the simulator's AWS variables."""
        env = dict((key, value) for key, value in integration.playbook_env(simulator).items()
                   if not key.startswith("ANSIBLE_") or key in KEPT_ANSIBLE_SETTINGS)
        env["HOME"] = self.home
        env.update(extra or {})
        return env


@pytest.fixture(scope="session")
def installation(tmp_path_factory):
    """Build the tarball and install it with its dependencies, offline, into an empty default collections path."""
    root = tmp_path_factory.mktemp("installed")
    home, neutral = root / "home", root / "neutral"
    home.mkdir()
    neutral.mkdir()
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith("ANSIBLE_"))
    env["HOME"] = str(home)
    # From a neutral folder: in the checkout, its ansible.cfg would show the collection as installed already.
    _galaxy(["collection", "build", "--output-path", str(root), REPO_ROOT], str(neutral), env)
    tarball = next(str(root / name) for name in os.listdir(str(root)) if name.endswith(".tar.gz"))
    requirements = root / "requirements.yml"
    requirements.write_text(json.dumps({"collections": [
        {"name": tarball, "type": "file"},
        {"name": os.path.join(DEPENDENCIES, "amazon", "aws"), "type": "dir"},
        {"name": os.path.join(DEPENDENCIES, "community", "aws"), "type": "dir"},
    ]}))
    installed = _galaxy(["collection", "install", "--offline", "-r", str(requirements)], str(neutral), env)
    return Installation(str(home), tarball, installed.stdout)


@pytest.fixture
def run_installed(simulator, installation, tmp_path):
    """run_installed(name, extra_vars=None, check=False, fast=True, env=None) -> PlaybookRun of dedicated_hosts.failover.<name>.

    Run from an empty folder of its own, with reports in tmp_path/reports.
    """
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    report_dir = str(tmp_path / "reports")

    def _run(name, extra_vars=None, check=False, fast=True, timeout=300, env=None):
        variables = dict(FAST if fast else {})
        variables.update(extra_vars or {})
        command = [os.path.join(ANSIBLE_BIN, "ansible-playbook"), "dedicated_hosts.failover." + name]
        for key, value in variables.items():
            command += ["-e", "%s=%s" % (key, value) if isinstance(value, str) else json.dumps({key: value})]
        if check:
            command.append("--check")
        completed = subprocess.run(command, cwd=str(workdir), env=installation.env(simulator, env), capture_output=True, text=True, timeout=timeout,
                                   check=False)
        return PlaybookRun(command, completed.returncode, completed.stdout, completed.stderr, report_dir)

    return _run
