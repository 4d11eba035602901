# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the failover_notification module in a fork of the controller (plugin_utils/forked_module.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dedicated_hosts.failover.plugins.plugin_utils.forked_module import ForkedModuleAction
from ansible_collections.dedicated_hosts.failover.plugins.plugin_utils.forked_module import preload

MODULE = "ansible_collections.dedicated_hosts.failover.plugins.modules.failover_notification"


class ActionModule(ForkedModuleAction):
    MODULE = MODULE
    PRELOADED = preload(MODULE)
