# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/docsite/: the pages scripts/docsite.py writes from the Markdown guides, and the docsite's links."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import asyncio
import os
import shutil
import subprocess
import sys

import yaml
from antsibull_docs.collection_links import load_collection_links

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join("scripts", "docsite.py")


def run_script(root, *args):
    return subprocess.run([sys.executable, os.path.join(root, SCRIPT)] + list(args), capture_output=True, text=True, check=False)


def copy_of_the_docs(tmp_path):
    """The script, galaxy.yml and docs/ outside the checkout, to change freely."""
    shutil.copytree(os.path.join(REPO_ROOT, "docs"), str(tmp_path / "docs"))
    (tmp_path / "scripts").mkdir()
    shutil.copy(os.path.join(REPO_ROOT, SCRIPT), str(tmp_path / SCRIPT))
    shutil.copy(os.path.join(REPO_ROOT, "galaxy.yml"), str(tmp_path / "galaxy.yml"))
    return tmp_path


def test_the_committed_docsite_is_what_the_script_writes():
    check = run_script(REPO_ROOT, "--check")
    assert check.returncode == 0, check.stderr


def test_every_guide_has_a_page_in_a_section():
    with open(os.path.join(REPO_ROOT, "docs", "docsite", "extra-docs.yml"), encoding="utf-8") as handle:
        index = yaml.safe_load(handle)
    pages = [entry for section in index["sections"] for entry in section["toctree"]]
    guides = [name[:-len(".md")] for name in os.listdir(os.path.join(REPO_ROOT, "docs")) if name.endswith(".md")]
    assert sorted(pages) == sorted(guides)
    for name in pages:
        with open(os.path.join(REPO_ROOT, "docs", "docsite", "rst", name + ".rst"), encoding="utf-8") as handle:
            assert "/blob/main/docs/%s.md>`__" % name in handle.read()


def test_a_retitled_guide_makes_the_check_fail_until_the_script_runs(tmp_path):
    root = copy_of_the_docs(tmp_path)
    guide = root / "docs" / "iam.md"
    guide.write_text(guide.read_text(encoding="utf-8").replace("# IAM: least privilege for the collection", "# IAM policies", 1),
                     encoding="utf-8")

    check = run_script(str(root), "--check")
    assert check.returncode == 1
    assert check.stderr.splitlines() == [os.path.join("docs", "docsite", "rst", "iam.rst") + " is out of date: run scripts/docsite.py"]

    assert run_script(str(root)).returncode == 0
    assert "IAM policies\n============\n" in (root / "docs" / "docsite" / "rst" / "iam.rst").read_text(encoding="utf-8")
    assert run_script(str(root), "--check").returncode == 0


def test_a_guide_in_no_section_fails_the_check(tmp_path):
    root = copy_of_the_docs(tmp_path)
    (root / "docs" / "upgrading.md").write_text("# Upgrading\n", encoding="utf-8")

    for args in (("--check",), ()):
        run = run_script(str(root), *args)
        assert run.returncode == 1
        assert run.stderr.splitlines() == ["docs/upgrading.md is in no section of scripts/docsite.py's SECTIONS"]


def test_the_docsite_links_to_the_repository_its_issues_and_the_guides():
    with open(os.path.join(REPO_ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)
    links = asyncio.run(load_collection_links("dedicated_hosts.failover", REPO_ROOT))
    urls = [link.url for link in links.links]
    for key in ("repository", "issues", "documentation"):
        assert urls.count(galaxy[key]) == 1, key
    assert links.issue_tracker == galaxy["issues"]
    assert "https://github.com/" + links.edit_on_github.repository == galaxy["repository"]
