# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repository's metadata that Galaxy, AWX and readers follow: galaxy.yml's links and the places that repeat them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import pytest
import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
URL_KEYS = ("repository", "documentation", "homepage", "issues")
# Host names reserved for examples (RFC 2606, RFC 6761): a link there leads nowhere.
EXAMPLE_HOST = re.compile(r"(^|\.)(example(\.com|\.net|\.org)?|invalid|test|localhost)$")


def read(relative):
    with open(os.path.join(REPO_ROOT, relative), encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(name="galaxy", scope="module")
def galaxy_fixture():
    return yaml.safe_load(read("galaxy.yml"))


@pytest.mark.parametrize("key", URL_KEYS)
def test_galaxy_links_are_https_urls_of_a_real_host(galaxy, key):
    match = re.match(r"^https://([^/:]+)/\S+$", galaxy[key])
    assert match, galaxy[key]
    assert not EXAMPLE_HOST.search(match.group(1)), galaxy[key]


def test_issues_and_docs_live_in_the_repository(galaxy):
    assert galaxy["homepage"] == galaxy["repository"]
    assert galaxy["issues"] == galaxy["repository"] + "/issues"
    assert galaxy["documentation"].startswith(galaxy["repository"] + "/")


@pytest.mark.parametrize("guide", ["README.md", os.path.join("docs", "installation.md")])
def test_the_documented_clone_is_the_repository(galaxy, guide):
    clones = re.findall(r"git clone (\S+)", read(guide))
    assert clones == [galaxy["repository"] + ".git"]


def test_the_awx_project_checks_out_the_repository(galaxy):
    projects = json.loads(read(os.path.join("extensions", "awx", "assets.json")))["projects"]
    assert [project["scm_url"] for project in projects] == [galaxy["repository"] + ".git"]
