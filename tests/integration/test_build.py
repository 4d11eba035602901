"""The release build: a tarball without scratch files that installs beside amazon.aws and documents itself."""

import os
import subprocess
import tarfile

from conftest import ANSIBLE_BIN
from conftest import COLLECTIONS_PATH
from conftest import REPO_ROOT

# What a checkout accumulates and a release must not carry.
SCRATCH_MARKERS = (".venv/", ".work/", "__pycache__", ".pytest_cache", "reports/", "tests/output/", ".pyc", ".git/", ".tar.gz",
                   ".ansible/", ".plugin-cache.yaml")
# Scratch that a demo, a lint run, a changelog build or a test run leaves in a checkout, made here when absent.
PROBES = (os.path.join("reports", "build-probe", "failover-h-00000000.html"), os.path.join(".ansible", "build-probe"),
          os.path.join("changelogs", ".plugin-cache.yaml"), os.path.join("plugins", "filter", "__pycache__", "build-probe.pyc"),
          os.path.join("extensions", "ee", "dedicated_hosts-failover-0.0.1.tar.gz"))


def test_the_release_tarball_holds_no_scratch_files_and_installs_with_no_deps(tmp_path):
    # Scratch files like those demos, lint, changelog and test runs leave behind, which the build must leave out.
    made = []
    try:
        for probe in PROBES:
            path = os.path.join(REPO_ROOT, probe)
            if os.path.exists(path):
                continue
            parents = []
            parent = os.path.dirname(path)
            while not os.path.isdir(parent):
                parents.append(parent)
                parent = os.path.dirname(parent)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("scratch\n")
            made.append((path, parents))
        build = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), REPO_ROOT],
                               capture_output=True, text=True, check=False, cwd=str(tmp_path))
    finally:
        for path, parents in made:
            os.remove(path)
            for parent in parents:
                os.rmdir(parent)
    assert build.returncode == 0, build.stderr
    tarball = tmp_path / "dedicated_hosts-failover-0.1.0.tar.gz"
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert [name for name in names if any(marker in name for marker in SCRATCH_MARKERS)] == []
    for expected in ("MANIFEST.json", "FILES.json", "meta/runtime.yml", "plugins/modules/instance_placement.py",
                     "roles/host_failover/meta/argument_specs.yml", "playbooks/failover.yml", "docs/variables.md",
                     "meta/execution-environment.yml", "meta/ee-requirements.txt", "extensions/ee/execution-environment.yml",
                     "extensions/awx/assets.json", "roles/host_failover/templates/report.html.j2", "docs/images/failover-report.png"):
        assert expected in names

    # A collections path that already holds amazon.aws and community.aws, as a user's would.
    target = tmp_path / "collections"
    (target / "ansible_collections").mkdir(parents=True)
    for namespace in ("amazon", "community"):
        os.symlink(os.path.join(COLLECTIONS_PATH, "ansible_collections", namespace), target / "ansible_collections" / namespace)
    # Run outside the checkout, whose ansible.cfg would show the collection as installed already.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(target))
    install = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(target), str(tarball)],
                             capture_output=True, text=True, check=False, cwd=str(tmp_path), env=env)
    assert install.returncode == 0, install.stderr
    assert (target / "ansible_collections" / "dedicated_hosts" / "failover" / "MANIFEST.json").is_file()

    for plugin_type, name in (("module", "instance_placement"), ("module", "replacement_host"), ("filter", "setting")):
        doc = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-doc"), "-t", plugin_type, "dedicated_hosts.failover." + name],
                             capture_output=True, text=True, env=env, check=False, cwd=str(tmp_path))
        assert doc.returncode == 0 and "EXAMPLES" in doc.stdout, doc.stderr
    listing = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-galaxy"), "collection", "list", "-p", str(target)],
                             capture_output=True, text=True, env=env, check=False, cwd=str(tmp_path))
    assert "dedicated_hosts.failover 0.1.0" in " ".join(listing.stdout.split())
