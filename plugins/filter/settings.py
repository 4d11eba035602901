# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that normalise and check playbook inputs that may arrive as strings (-e, AWX surveys).

``setting`` converts one input to its kind and checks its bounds, both taken by the variable's name from
``module_utils/defaults.py`` with its default; ``valid_topic_arn`` checks an SNS topic ARN with the same rule as the
modules (``module_utils/ids.py``), so a bad ARN is refused before any AWS call.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import math

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.defaults import SETTINGS
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import InvalidInputError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.ids import validate_topic_arn


def _is_unset(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _as_list(value):
    if isinstance(value, str) and value.strip().startswith("["):
        # A list written as JSON, e.g. -e failed_host_ids=[] or an AWX artifact rendered as text.
        items = json.loads(value)
        if not isinstance(items, list):
            raise ValueError("not a list")
    elif isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise AnsibleFilterError("expected a list or a comma-separated string, got %r" % (value,))
    return [item.strip() if isinstance(item, str) else item for item in items if not _is_unset(item)]


def _as_dict(value):
    # A dictionary typed as text (-e 'reserved_tags={"Role": "Spare"}', an AWX text answer) arrives as a string.
    converted = json.loads(value) if isinstance(value, str) else dict(value)
    if not isinstance(converted, dict):
        raise ValueError("not a dictionary")
    return converted


# One converter per kind of module_utils/defaults.py's settings.
CONVERTERS = {
    "str": lambda value: value.strip() if isinstance(value, str) else str(value),
    "bool": lambda value: boolean(value, strict=True),
    "int": int,
    "float": float,
    "list": _as_list,
    "dict": _as_dict,
}


_FROM_THE_TABLE = object()


def setting(value, name, default=_FROM_THE_TABLE):
    """``value`` converted to variable ``name``'s kind; its default when it is unset (undefined, null or an empty string).

    The kind, the default and, for numbers, the bounds (``minimum`` inclusive, ``greater_than`` exclusive; they apply
    to a given value, not the default) are ``name``'s in module_utils/defaults.py. ``default`` replaces the table's
    for a default the playbook computes (the AWS environment's region, say).
    """
    if name not in SETTINGS:
        raise AnsibleFilterError("setting: unknown variable %r: add its default and kind to plugins/module_utils/defaults.py" % (name,))
    kind, minimum, greater_than = SETTINGS[name].kind, SETTINGS[name].minimum, SETTINGS[name].greater_than
    if _is_unset(value):
        return copy.deepcopy(SETTINGS[name].default) if default is _FROM_THE_TABLE else default
    if kind in ("int", "float") and isinstance(value, bool):
        raise AnsibleFilterError("%s: %r is not a valid %s" % (name, value, kind))
    try:
        converted = CONVERTERS[kind](value)
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError("%s: %r is not a valid %s (%s)" % (name, value, kind, error))
    if kind in ("int", "float"):
        if math.isnan(converted) or math.isinf(converted):
            raise AnsibleFilterError("%s: %r is not a finite number" % (name, value))
        if minimum is not None and converted < minimum:
            raise AnsibleFilterError("%s: %r is not allowed: it must be %s or more" % (name, value, minimum))
        if greater_than is not None and converted <= greater_than:
            raise AnsibleFilterError("%s: %r is not allowed: it must be greater than %s" % (name, value, greater_than))
    return converted


def valid_topic_arn(value, name="notification_topic_arn"):
    """``value`` when it is unset (returned as an empty string) or a valid SNS topic ARN; else an error naming it."""
    if _is_unset(value):
        return ""
    text = value.strip() if isinstance(value, str) else value
    try:
        return validate_topic_arn(text, what=name)
    except InvalidInputError as error:
        raise AnsibleFilterError(error.message)


class FilterModule(object):
    def filters(self):
        return {"setting": setting, "valid_topic_arn": valid_topic_arn}
