# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health check's decision (module_utils/health_decision.py) over the results the health_check role registers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.health_decision import health_decision as decide


def _loop_item(result):
    """The item a looped task ran for (each looped result names its loop variable)."""
    return result[result["ansible_loop_var"]]


def health_decision(scan_results, record_lists, leases=None, reserved_tags=None):
    """host_health_info's results looped over regions, migration_record_info's listings looped over table regions
    (a missing table has no ``records``), and its lease reads of the failovers in flight."""
    return decide(
        scans=[{"region": _loop_item(scan), "hosts": scan["hosts"], "summary": scan["summary"]} for scan in scan_results],
        record_lists=[{"region": _loop_item(listing), "records": listing.get("records")} for listing in record_lists],
        leases=[{"status": read.get("status"), "lease": read.get("lease")} for read in leases or []],
        reserved_tags=reserved_tags,
    )


class FilterModule(object):
    def filters(self):
        return {"health_decision": health_decision}
