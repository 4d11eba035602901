# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The outcome of one failover (or failback) run, the error it reports and the operator's next action.

The outcome, first match wins:

1. ``deferred to AWS maintenance``: AWS host maintenance will evacuate the host, so the run refused it;
2. ``failed``: the run stopped on an error (a task failed: lock held, bad input, an AWS error, ...);
3. ``recovered by AWS``: AWS host recovery finished first and nothing was changed;
4. ``succeeded``: the host's failover was already complete before this run;
5. ``planned``: check mode, with a plan (nothing was changed);
6. ``succeeded``: the record's final state is ``complete``;
7. ``cancelled``: the record's final state is ``cancelled``; the error is then the record's ``errorDetails``
   (who cancelled, when, why, and what the cancel left);
8. ``failed``: anything else (instances failed, or the run never reached the record).

The next action follows the outcome: the deferral's advice for 1, else ``next_action`` of the error and results.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from typing import Any
from typing import Dict
from typing import List
from typing import Optional

DEFERRED_TO_AWS = "deferred to AWS maintenance"
FAILED = "failed"
RECOVERED_BY_AWS = "recovered by AWS"
SUCCEEDED = "succeeded"
PLANNED = "planned"
CANCELLED = "cancelled"


def run_outcome(deferred_to_aws: bool = False, error: Optional[str] = None, recovered_by_aws: bool = False,
                already_done: bool = False, check_mode: bool = False, planned: bool = False,
                final_state: str = "") -> str:
    """The outcome of a run, by the precedence of this file's docstring."""
    if deferred_to_aws:
        return DEFERRED_TO_AWS
    if error is not None:
        return FAILED
    if recovered_by_aws:
        return RECOVERED_BY_AWS
    if already_done:
        return SUCCEEDED
    if check_mode and planned:
        return PLANNED
    if final_state == "complete":
        return SUCCEEDED
    if final_state == "cancelled":
        return CANCELLED
    return FAILED


def next_action(error: Optional[str], results: List[Dict[str, Any]], host_id: str, table: str) -> str:
    """What the operator should do next, from the error and the failed instances."""
    text = error or ""
    if "is locked by" in text:
        return "wait for the other run to finish (see migration_status.yml), or, if it is dead, rerun after its lease expires or with break_lock=true"
    if "looks healthy" in text:
        return "check the host; rerun with force=true only if it really must be evacuated"
    if "malformed" in text or "not found" in text or "must be" in text:
        return "correct the input and rerun"
    if text.startswith("cancel requested by"):
        return (
            "the instances the cancel left (status pending) are where they were, running or stopped as before; "
            f"to finish the failover later, run failover.yml -e failed_host_id={host_id} again (the health check does not resume "
            "a cancelled failover)"
        )
    failed = [result for result in results if result.get("status") == "failed"]
    if failed:
        return (
            "fix the cause of each failed instance (errors above), then rerun the same playbook: it resumes from the record "
            f"in {table} and leaves the moved instances alone; progress: migration_status.yml -e failed_host_id={host_id}"
        )
    if text:
        return f"fix the cause above and rerun the same playbook; it resumes from the record in {table}"
    return "nothing"


def deferral_next_action(replacement_candidates: List[str]) -> str:
    """The advice for a host left to AWS host maintenance: ignore AWS, or name its replacement as the target."""
    candidate = replacement_candidates[0] if replacement_candidates else "h-..."
    return f"rerun with ignore_aws_recovery=true, or name AWS's replacement with target_host_ids={candidate}"


def failover_outcome(status: Dict[str, Any], results: List[Dict[str, Any]], host_id: str, table: str,
                     error: Optional[str] = None, deferred_to_aws: bool = False, recovered_by_aws: bool = False,
                     already_done: bool = False, check_mode: bool = False, planned: bool = False,
                     replacement_candidates: Optional[List[str]] = None) -> Dict[str, Any]:
    """``outcome``, ``error`` (the run's, or the cancel's ``errorDetails``; None without one) and ``next_action`` of a run.

    ``status`` is the record's final status document (empty without a record), ``results`` the per-instance results
    (those left on the host included), ``planned`` whether a plan was made, ``replacement_candidates`` the hosts AWS
    maintenance allocated (for the deferral's advice).
    """
    status = status or {}
    outcome = run_outcome(deferred_to_aws=deferred_to_aws, error=error, recovered_by_aws=recovered_by_aws,
                          already_done=already_done, check_mode=check_mode, planned=planned,
                          final_state=status.get("state") or "")
    if outcome == CANCELLED:
        error = status.get("errorDetails")
    if outcome == DEFERRED_TO_AWS:
        advice = deferral_next_action(replacement_candidates or [])
    else:
        advice = next_action(error, results or [], host_id, table)
    return dict(outcome=outcome, error=error, next_action=advice)
