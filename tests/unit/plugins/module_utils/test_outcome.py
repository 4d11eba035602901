# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The outcome of a run: every rule of the precedence, the error a cancel reports, and the next action."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.dedicated_hosts.failover.plugins.module_utils import outcome

HOST = "h-01234567"
TABLE = "T"
MOVED = {"instance_id": "i-0123456789abcdef0", "status": "success"}
FAILED = {"instance_id": "i-89abcdef", "status": "failed", "error": "StartInstances failed: InsufficientInstanceCapacity"}
CANCEL = "cancel requested by alice@bastion at 2026-12-03T10:00:00Z: freeze; 1 instance(s) were not migrated"
COMPLETE = {"state": "complete"}
CANCELLED = {"state": "cancelled", "errorDetails": CANCEL}


def decide(status=None, results=(), **flags):
    return outcome.failover_outcome(status or {}, list(results), HOST, TABLE, **flags)


# Each rule, with every later rule's condition also true: the earlier one wins.
@pytest.mark.parametrize("status, flags, expected", [
    (COMPLETE, dict(deferred_to_aws=True, error="refused", recovered_by_aws=True, already_done=True), "deferred to AWS maintenance"),
    (COMPLETE, dict(error="lock held", recovered_by_aws=True, already_done=True, check_mode=True, planned=True), "failed"),
    (COMPLETE, dict(recovered_by_aws=True, already_done=True, check_mode=True, planned=True), "recovered by AWS"),
    (CANCELLED, dict(already_done=True, check_mode=True, planned=True), "succeeded"),
    (CANCELLED, dict(check_mode=True, planned=True), "planned"),
    (COMPLETE, dict(check_mode=True), "succeeded"),
    (COMPLETE, dict(planned=True), "succeeded"),
    (CANCELLED, dict(), "cancelled"),
    ({"state": "failed"}, dict(), "failed"),
    ({"state": "processing"}, dict(), "failed"),
    ({}, dict(), "failed"),
])
def test_the_first_rule_that_matches_decides_the_outcome(status, flags, expected):
    assert decide(status, **flags)["outcome"] == expected


def test_an_empty_error_message_still_fails_the_run():
    assert decide(COMPLETE, error="")["outcome"] == "failed"


def test_a_cancelled_run_reports_the_records_error_details_as_its_error():
    decision = decide(CANCELLED, [FAILED])
    assert decision["error"] == CANCEL
    assert "run failover.yml -e failed_host_id=%s again" % HOST in decision["next_action"]


def test_the_runs_own_error_is_reported_unless_cancelled():
    assert decide({}, error="Host h-01234567 looks healthy")["error"] == "Host h-01234567 looks healthy"
    assert decide(COMPLETE)["error"] is None


def test_a_deferred_run_advises_ignoring_aws_or_naming_its_replacement():
    named = decide(deferred_to_aws=True, error="refused", replacement_candidates=["h-0fedcba9876543210", "h-11111111"])
    assert named["next_action"] == ("rerun with ignore_aws_recovery=true, or name AWS's replacement with "
                                    "target_host_ids=h-0fedcba9876543210")
    assert decide(deferred_to_aws=True)["next_action"].endswith("target_host_ids=h-...")


def test_a_succeeded_run_has_nothing_to_do_next():
    assert decide(COMPLETE, [MOVED])["next_action"] == "nothing"


def test_next_action_depends_on_the_cause():
    assert "break_lock" in outcome.next_action("host h-01234567 is locked by run x", [], HOST, TABLE)
    assert "force=true" in outcome.next_action("Host h-01234567 looks healthy", [], HOST, TABLE)
    assert outcome.next_action("option host_id 'h-1' is malformed", [], HOST, TABLE) == "correct the input and rerun"
    assert "rerun" in outcome.next_action("", [FAILED], HOST, TABLE)
    assert outcome.next_action("", [MOVED], HOST, TABLE) == "nothing"
    assert outcome.next_action("StopInstances failed", [MOVED], HOST, TABLE).startswith("fix the cause above")
    cancelled = outcome.next_action(CANCEL, [FAILED], HOST, TABLE)
    assert "run failover.yml -e failed_host_id=h-01234567 again" in cancelled and "does not resume" in cancelled
