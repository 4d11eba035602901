# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every place that states a public variable's default agrees with plugins/module_utils/defaults.py.

The playbooks, the modules' argument specs and the engine read the table; YAML and Markdown cannot, so the roles'
defaults and argument specs, the modules' and plugins' DOCUMENTATION and docs/variables.md repeat its values. Each
test here reads one kind of place and names the place, the variable and both values when they disagree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import importlib
import os
import re

import pytest
import yaml

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.dedicated_hosts.failover.plugins.filter import settings
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import SETTINGS

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# A place that says "no value" (an option without default, a row saying none): agrees with an empty default.
UNSET = object()
EMPTY_DEFAULTS = (None, "", [], {})

# Role variables: (role, prefix, {name after the prefix: variable of the table}, names that are no public variable).
ROLES = [
    ("host_failover", "host_failover_", {"health_event_resources": "health_event_host_ids", "progress": "failover_progress"},
     {"retry_failed", "run_id", "owner"}),
    ("host_failback", "host_failback_", {"original_host_id": "failed_host_id"}, {"run_id", "owner"}),
    ("health_check", "health_check_", {"health_event_resources": "health_event_host_ids", "report_dir": "health_report_dir"}, set()),
]
# Module and plugin options named otherwise than their variable.
OPTION_VARIABLES = {
    "table": "migration_table",
    "concurrency": "failover_concurrency",
    "lease_seconds": "failover_lease_seconds",
    "progress": "failover_progress",
    "ttl_days": "record_ttl_days",
    "health_event_resources": "health_event_host_ids",
    "aws_recovery_poll_interval": "poll_interval",
}
# Variables of the table that docs/variables.md does not list: the roles' own, set by no playbook.
UNDOCUMENTED = {"record_ttl_days"}


def read(path):
    with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as handle:
        return handle.read()


def agrees(expected, stated):
    if stated is UNSET:
        return expected in EMPTY_DEFAULTS
    if isinstance(expected, bool) or isinstance(stated, bool):
        return expected is stated
    return expected == stated  # 120 == 120.0: YAML and Python write a float default either way


def kind_agrees(setting, kind):
    # A role takes an unset-by-default number as raw, so that the playbook can pass null on every ansible-core.
    return kind == setting.kind or (kind == "raw" and setting.default is None)


def disagreements(place, stated):
    """Messages for every (variable, value) of ``stated`` that is not the table's."""
    return ["%s: %s is %r, plugins/module_utils/defaults.py says %r" % (place, name, value, SETTINGS[name].default)
            for name, value in stated if not agrees(SETTINGS[name].default, value)]


def assert_agree(place, stated, kinds=()):
    """``stated``: (variable, default) pairs; ``kinds``: (variable, type) pairs, a type as Ansible's argument specs write it."""
    unknown = [name for name, _value in list(stated) + list(kinds) if name not in SETTINGS]
    assert not unknown, "%s: %s not in plugins/module_utils/defaults.py" % (place, ", ".join(unknown))
    problems = disagreements(place, stated) + ["%s: %s is of type %s, plugins/module_utils/defaults.py says %s" % (place, name, kind, SETTINGS[name].kind)
                                               for name, kind in kinds if not kind_agrees(SETTINGS[name], kind)]
    assert not problems, "\n".join(problems)


def option_defaults(options):
    """(variable, default) of the options that are public variables; an option without default says UNSET."""
    stated = []
    for option, spec in sorted(options.items()):
        name = OPTION_VARIABLES.get(option, option)
        if name in SETTINGS:
            stated.append((name, UNSET if spec.get("default") is None else spec["default"]))
    return stated


def option_kinds(options):
    """(variable, type) of the options that are public variables (an untyped option is a str)."""
    return [(OPTION_VARIABLES.get(option, option), spec.get("type", "str")) for option, spec in sorted(options.items())
            if OPTION_VARIABLES.get(option, option) in SETTINGS]


def role_variable(role, name):
    _role, prefix, renames, internal = [entry for entry in ROLES if entry[0] == role][0]
    assert name.startswith(prefix), "roles/%s: %s lacks the role's prefix %s" % (role, name, prefix)
    short = name[len(prefix):]
    return None if short in internal else renames.get(short, short)


@pytest.mark.parametrize("role", [entry[0] for entry in ROLES])
def test_role_defaults_agree(role):
    place = "roles/%s/defaults/main.yml" % role
    defaults = yaml.safe_load(read(place))
    stated = [(role_variable(role, name), value) for name, value in sorted(defaults.items())]
    assert_agree(place, [(name, UNSET if value is None else value) for name, value in stated if name])


@pytest.mark.parametrize("role", [entry[0] for entry in ROLES])
def test_role_argument_specs_agree(role):
    place = "roles/%s/meta/argument_specs.yml" % role
    options = yaml.safe_load(read(place))["argument_specs"]["main"]["options"]
    stated = [(role_variable(role, name), spec.get("default", UNSET)) for name, spec in sorted(options.items())]
    kinds = [(role_variable(role, name), spec.get("type", "str")) for name, spec in sorted(options.items())]
    assert_agree(place, [(name, UNSET if value is None else value) for name, value in stated if name], [(name, kind) for name, kind in kinds if name])


class ArgumentSpec(Exception):
    """Raised in place of building the module, carrying the whole argument spec (the base's options included)."""


def argument_spec_of(module):
    def capture(_self, argument_spec=None, **_kwargs):
        raise ArgumentSpec(argument_spec)

    original = AnsibleAWSModule.__init__
    AnsibleAWSModule.__init__ = capture
    try:
        module.main()
    except ArgumentSpec as caught:
        return caught.args[0]
    finally:
        AnsibleAWSModule.__init__ = original
    raise AssertionError("%s built no module" % module.__name__)


MODULES = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(REPO_ROOT, "plugins", "modules", "*.py")))


@pytest.mark.parametrize("name", MODULES)
def test_module_argument_specs_agree(name):
    module = importlib.import_module("ansible_collections.dedicated_hosts.failover.plugins.modules." + name)
    spec = argument_spec_of(module)
    assert_agree("plugins/modules/%s.py argument_spec" % name, option_defaults(spec), option_kinds(spec))


def documented_plugins():
    """(place, DOCUMENTATION text) of every module, inventory plugin and doc fragment."""
    documents = []
    for kind in ("modules", "inventory"):
        for name in sorted(glob.glob(os.path.join(REPO_ROOT, "plugins", kind, "*.py"))):
            module = importlib.import_module("ansible_collections.dedicated_hosts.failover.plugins.%s.%s" % (kind, os.path.basename(name)[:-3]))
            documents.append(("plugins/%s/%s DOCUMENTATION" % (kind, os.path.basename(name)), module.DOCUMENTATION))
    for name in sorted(glob.glob(os.path.join(REPO_ROOT, "plugins", "doc_fragments", "*.py"))):
        fragment = importlib.import_module("ansible_collections.dedicated_hosts.failover.plugins.doc_fragments." + os.path.basename(name)[:-3])
        for attribute in sorted(vars(fragment.ModuleDocFragment)):
            if attribute.isupper():
                documents.append(("plugins/doc_fragments/%s %s" % (os.path.basename(name), attribute), getattr(fragment.ModuleDocFragment, attribute)))
    return documents


DOCUMENTED_PLUGINS = documented_plugins()


@pytest.mark.parametrize("place, documentation", DOCUMENTED_PLUGINS, ids=[place for place, _documentation in DOCUMENTED_PLUGINS])
def test_plugin_documentation_agrees(place, documentation):
    options = yaml.safe_load(documentation).get("options") or {}
    assert_agree(place, option_defaults(options), option_kinds(options))


def documented_defaults():
    """(variable, default) of every row of docs/variables.md's tables: a literal, UNSET, or left out when computed."""
    stated = []
    for line in read("docs/variables.md").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) != 3:
            continue
        names = re.findall(r"`(\w+)`", cells[0])
        remark_free = re.sub(r"\([^)]*\)", "", cells[1]).strip()
        values = re.findall(r"`([^`]*)`", remark_free)
        text = re.sub(r"`[^`]*`|,", "", remark_free).strip()
        if remark_free == "as above" or (values and text) or any(value in SETTINGS for value in values):
            continue  # said in an earlier row, computed from other values, or another variable's value
        if not values:
            stated.extend((name, UNSET) for name in names)
            continue
        assert len(values) in (1, len(names)), "docs/variables.md: cannot pair %s with %s" % (names, values)
        stated.extend(zip(names, [yaml.safe_load(value) for value in values] * (len(names) // len(values))))
    return stated


def test_the_documented_defaults_agree():
    assert_agree("docs/variables.md", documented_defaults())


def test_every_variable_is_documented():
    documented = set(name for name, _value in documented_defaults()) | set(re.findall(r"^\| `(\w+)`", read("docs/variables.md"), re.M))
    missing = sorted(set(SETTINGS) - documented - UNDOCUMENTED)
    assert not missing, "docs/variables.md lists no row for %s" % ", ".join(missing)


def is_literal(expression):
    """Whether a Jinja expression is a constant (a number, a quoted string, a list ...), not computed."""
    if expression in ("none", "None", "true", "false", "True", "False") or re.match(r"^('[^']*'|\"[^\"]*\")$", expression):
        return True
    try:
        return not isinstance(yaml.safe_load(expression), str)
    except yaml.YAMLError:
        return False


def test_playbooks_take_the_defaults_from_the_table():
    """A playbook names the variable; it states a default only when it computes one (the AWS environment's region)."""
    for path in sorted(glob.glob(os.path.join(REPO_ROOT, "playbooks", "*.yml"))):
        place = os.path.relpath(path, REPO_ROOT)
        text = read(place)
        for call in re.findall(r"setting\(\s*([^)]*)", text):
            name = re.match(r"'(\w+)'", call)
            assert name and name.group(1) in SETTINGS, "%s: setting(%s...) names no variable of defaults.py" % (place, call)
            default = re.search(r"default=([^|]*?)\s*$", call)
            assert not (default and is_literal(default.group(1))), (
                "%s: %s states its default %s: defaults.py holds it" % (place, name.group(1), default.group(1)))


def test_every_kind_is_one_the_setting_filter_converts():
    unknown = dict((name, entry.kind) for name, entry in SETTINGS.items() if entry.kind not in settings.CONVERTERS)
    assert not unknown, unknown


def test_bounds_are_only_on_numbers():
    for name, entry in SETTINGS.items():
        if entry.minimum is not None or entry.greater_than is not None:
            assert entry.kind in ("int", "float"), name
