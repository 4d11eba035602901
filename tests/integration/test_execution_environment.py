"""The execution environment: ansible-builder writes a build context from extensions/ee/execution-environment.yml
(no container engine needed), and its introspection finds the collection's own requirements in meta/."""

import json
import os
import shutil
import subprocess
import sys

import yaml

from conftest import ANSIBLE_BIN
from conftest import COLLECTIONS_PATH
from conftest import REPO_ROOT

BUILDER = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
DEFINITION = os.path.join("extensions", "ee", "execution-environment.yml")


def requirement_names(path):
    with open(path, encoding="utf-8") as handle:
        return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]


def galaxy_version():
    with open(os.path.join(REPO_ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["version"]


def test_ansible_builder_creates_a_build_context_with_the_collection_and_its_dependencies(tmp_path):
    # The definition's layout, outside the checkout: the definition, the meta/ files it names and the
    # tarball the documented `ansible-galaxy collection build --output-path extensions/ee/` makes.
    tree = tmp_path / "tree"
    (tree / "extensions" / "ee").mkdir(parents=True)
    (tree / "meta").mkdir()
    shutil.copy(os.path.join(REPO_ROOT, DEFINITION), tree / DEFINITION)
    for name in ("ee-requirements.txt", "ee-bindep.txt"):
        shutil.copy(os.path.join(REPO_ROOT, "meta", name), tree / "meta" / name)
    build = subprocess.run([os.path.join(ANSIBLE_BIN, "ansible-galaxy"), "collection", "build", "--output-path",
                            str(tree / "extensions" / "ee"), REPO_ROOT], capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert build.returncode == 0, build.stderr
    tarball = "dedicated_hosts-failover-%s.tar.gz" % galaxy_version()

    context = tmp_path / "context"
    create = subprocess.run([BUILDER, "create", "-f", str(tree / DEFINITION), "-c", str(context), "--output-filename", "Containerfile"],
                            capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert create.returncode == 0, create.stdout + create.stderr
    assert "No matches" not in create.stdout + create.stderr

    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert "quay.io/ansible/awx-ee:24.6.1" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    built = context / "_build"
    # The collection's Python and system requirements are in the context, as written in meta/.
    assert requirement_names(built / "requirements.txt") == requirement_names(os.path.join(REPO_ROOT, "meta", "ee-requirements.txt"))
    assert any(name.startswith("boto3") for name in requirement_names(built / "requirements.txt"))
    assert (built / "bindep.txt").read_text(encoding="utf-8") == (tree / "meta" / "ee-bindep.txt").read_text(encoding="utf-8")
    # The collections: amazon.aws and community.aws from Galaxy, this one from the tarball copied beside requirements.yml.
    collections = yaml.safe_load((built / "requirements.yml").read_text(encoding="utf-8"))["collections"]
    names = [entry["name"] for entry in collections]
    assert names[:2] == ["amazon.aws", "community.aws"]
    local = [entry for entry in collections if entry.get("type") == "file"]
    assert [entry["name"] for entry in local] == ["collections/" + tarball]
    assert (built / "collections" / tarball).is_file()
    # The same collection versions the test suites run with (requirements.yml).
    with open(os.path.join(REPO_ROOT, "requirements.yml"), encoding="utf-8") as handle:
        pinned = dict((entry["name"], str(entry["version"])) for entry in yaml.safe_load(handle)["collections"])
    assert dict((entry["name"], str(entry["version"])) for entry in collections if "version" in entry) == pinned


def test_introspection_finds_the_collection_requirements_in_meta():
    result = subprocess.run([BUILDER, "introspect", "--sanitize", COLLECTIONS_PATH], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    found = yaml.safe_load(result.stdout)
    ours = [line.split("#")[0].strip() for line in found["python"] if "from collection dedicated_hosts.failover" in line]
    assert ours == requirement_names(os.path.join(REPO_ROOT, "meta", "ee-requirements.txt"))
    # The community.aws modules the default AWX image lacks are installed from requirements, and need boto3 too.
    assert any("from collection community.aws" in line for line in found["python"])


def test_the_image_the_templates_run_in_and_the_project_they_check_out_carry_galaxy_yml_version():
    # The playbooks come from the AWX project (git), the roles and modules they call from the image's collection:
    # both are pinned to one release (docs/awx.md, "Playbooks and collection in step").
    version = galaxy_version()
    with open(os.path.join(REPO_ROOT, DEFINITION), encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    ours = [entry["name"] for entry in definition["dependencies"]["galaxy"]["collections"] if entry.get("type") == "file"]
    assert ours == ["collections/dedicated_hosts-failover-%s.tar.gz" % version]
    assert [tag.rsplit(":", 1)[1] for tag in definition["options"]["tags"]] == [version]
    # The image runs jobs with the ansible-runner the AWX runner tests use.
    assert definition["dependencies"]["ansible_runner"]["package_pip"] in requirement_names(os.path.join(REPO_ROOT, "requirements-test.txt"))
    with open(os.path.join(REPO_ROOT, "extensions", "awx", "assets.json"), encoding="utf-8") as handle:
        assets = json.load(handle)
    assert [environment["image"].rsplit(":", 1)[1] for environment in assets["execution_environments"]] == [version]
    assert [project["scm_branch"] for project in assets["projects"]] == [version]
