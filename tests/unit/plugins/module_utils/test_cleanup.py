# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which failovers release_unused_hosts counts as still using their hosts (the release itself: test_hosts.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.cleanup import _live_failovers
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_margin

NOW = 1795000000.0
LEASE_SECONDS = 60.0


def leased(host_id, expires_in, state="complete"):
    return {"HostId": host_id, "State": state, "LeaseRunId": "run-a", "LeaseOwner": "ops@bastion",
            "LeaseExpiresAt": NOW + expires_in, "LeaseSeconds": LEASE_SECONDS}


def test_a_lease_past_its_expiry_keeps_its_failover_live_for_the_holders_margin():
    margin = lease_margin(LEASE_SECONDS)
    records = [leased("h-00000001", -margin + 0.5), leased("h-00000002", -margin - 0.5), leased("h-00000003", 30.0)]
    assert _live_failovers(records, NOW) == {"h-00000001", "h-00000003"}


def test_an_unleased_record_is_live_only_while_its_failover_is_pending_or_processing():
    records = [{"HostId": "h-00000001", "State": "processing"}, {"HostId": "h-00000002", "State": "complete"},
               {"HostId": "h-00000003", "State": "pending"}, {"HostId": "h-00000004", "State": "cancelled"}]
    assert _live_failovers(records, NOW) == {"h-00000001", "h-00000003"}
