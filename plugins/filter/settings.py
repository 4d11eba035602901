# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``setting`` filter: normalise one playbook input that may arrive as a string (-e, AWX surveys)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean


def _is_unset(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _as_list(value):
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise AnsibleFilterError("expected a list or a comma-separated string, got %r" % (value,))
    return [item.strip() if isinstance(item, str) else item for item in items if not _is_unset(item)]


_CONVERTERS = {
    "str": lambda value: value.strip() if isinstance(value, str) else str(value),
    "bool": lambda value: boolean(value, strict=True),
    "int": int,
    "float": float,
    "list": _as_list,
    "dict": dict,
}


def setting(value, default=None, kind="str", name="value"):
    """``value`` converted to ``kind``; ``default`` when it is unset (undefined, null or an empty string)."""
    if kind not in _CONVERTERS:
        raise AnsibleFilterError("setting: unknown kind %r (one of %s)" % (kind, ", ".join(sorted(_CONVERTERS))))
    if _is_unset(value):
        return default
    try:
        return _CONVERTERS[kind](value)
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError("%s: %r is not a valid %s (%s)" % (name, value, kind, error))


class FilterModule(object):
    def filters(self):
        return {"setting": setting}
