"""The execution environment: ansible-builder writes a build context from extensions/ee/execution-environment.yml
(no container engine needed), and its introspection finds the collection's own requirements in meta/. The decision
environment (extensions/eda/decision-environment.yml): valid for ansible-builder's schema, with the versions the eda
suite runs the rulebook with."""

import json
import os
import shutil
import subprocess
import sys

import yaml
from packaging.version import Version

from conftest import ANSIBLE_BIN
from conftest import COLLECTIONS_PATH
from conftest import REPO_ROOT

BUILDER = os.path.join(os.path.dirname(sys.executable), "ansible-builder")
DEFINITION = os.path.join("extensions", "ee", "execution-environment.yml")
DECISION_DEFINITION = os.path.join("extensions", "eda", "decision-environment.yml")
EDA_REQUIREMENTS = os.path.join(REPO_ROOT, "tests", "eda", "requirements-eda.txt")


def requirement_names(path):
    with open(path, encoding="utf-8") as handle:
        return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]


def read_yaml(relative):
    with open(os.path.join(REPO_ROOT, relative), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def galaxy_version():
    return read_yaml("galaxy.yml")["version"]


def pinned_collections():
    """{name: version} of requirements.yml: the collections the test suites run with."""
    return dict((entry["name"], str(entry["version"])) for entry in read_yaml("requirements.yml")["collections"])


def ansible_builder_create(definition, context, cwd):
    return subprocess.run([BUILDER, "create", "-f", str(definition), "-c", str(context), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, check=False, cwd=str(cwd))


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
    create = ansible_builder_create(tree / DEFINITION, context, tmp_path)
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
    assert dict((entry["name"], str(entry["version"])) for entry in collections if "version" in entry) == pinned_collections()


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
    definition = read_yaml(DEFINITION)
    ours = [entry["name"] for entry in definition["dependencies"]["galaxy"]["collections"] if entry.get("type") == "file"]
    assert ours == ["collections/dedicated_hosts-failover-%s.tar.gz" % version]
    assert [tag.rsplit(":", 1)[1] for tag in definition["options"]["tags"]] == [version]
    # The image runs jobs with the ansible-runner the AWX runner tests use.
    assert definition["dependencies"]["ansible_runner"]["package_pip"] in requirement_names(os.path.join(REPO_ROOT, "requirements-test.txt"))
    with open(os.path.join(REPO_ROOT, "extensions", "awx", "assets.json"), encoding="utf-8") as handle:
        assets = json.load(handle)
    assert [environment["image"].rsplit(":", 1)[1] for environment in assets["execution_environments"]] == [version]
    assert [project["scm_branch"] for project in assets["projects"]] == [version]


def test_the_decision_environment_installs_what_the_eda_suite_runs_the_rulebook_with():
    definition = read_yaml(DECISION_DEFINITION)
    dependencies = definition["dependencies"]
    assert definition["version"] == 3
    # ansible-rulebook and the SQS event source's aiobotocore, as the eda suite pins them.
    assert dependencies["python"] == requirement_names(EDA_REQUIREMENTS)
    # Java 17 for ansible-rulebook's rules engine, a system package.
    assert [entry for entry in dependencies["system"] if entry.startswith("java-17-openjdk")], dependencies["system"]
    # amazon.aws: the version the suites run with, which is at least galaxy.yml's floor (the SQS event source's release).
    (collection,) = dependencies["galaxy"]["collections"]
    assert collection["name"] == "amazon.aws"
    assert collection["version"] == pinned_collections()["amazon.aws"]
    floor = read_yaml("galaxy.yml")["dependencies"]["amazon.aws"]
    assert floor.startswith(">=") and Version(collection["version"]) >= Version(floor[2:])
    # The ansible-core and ansible-runner of the execution environment, and a tag of galaxy.yml's version.
    execution = read_yaml(DEFINITION)["dependencies"]
    assert (dependencies["ansible_core"], dependencies["ansible_runner"]) == (execution["ansible_core"], execution["ansible_runner"])
    assert [tag.rsplit(":", 1)[1] for tag in definition["options"]["tags"]] == [galaxy_version()]


def test_ansible_builder_creates_the_decision_environments_build_context(tmp_path):
    context = tmp_path / "context"
    create = ansible_builder_create(os.path.join(REPO_ROOT, DECISION_DEFINITION), context, tmp_path)
    assert create.returncode == 0, create.stdout + create.stderr

    built = context / "_build"
    assert requirement_names(built / "requirements.txt") == requirement_names(EDA_REQUIREMENTS)
    assert (built / "bindep.txt").read_text(encoding="utf-8").split("\n")[0].startswith("java-17-openjdk")
    collections = yaml.safe_load((built / "requirements.yml").read_text(encoding="utf-8"))["collections"]
    assert [(entry["name"], str(entry["version"])) for entry in collections] == [("amazon.aws", pinned_collections()["amazon.aws"])]
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert read_yaml(DECISION_DEFINITION)["images"]["base_image"]["name"] in containerfile


def test_ansible_builder_refuses_a_decision_environment_that_breaks_its_schema(tmp_path):
    # The same definition with a misspelt key: proof that ansible-builder validates the file against its schema.
    definition = read_yaml(DECISION_DEFINITION)
    definition["dependencies"]["pyhton"] = definition["dependencies"].pop("python")
    broken = tmp_path / "decision-environment.yml"
    broken.write_text(yaml.safe_dump(definition), encoding="utf-8")

    create = ansible_builder_create(broken, tmp_path / "context", tmp_path)

    assert create.returncode != 0
    assert "Additional properties are not allowed ('pyhton' was unexpected)" in create.stdout + create.stderr
