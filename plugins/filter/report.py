# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn a failover's plan and per-instance results into lines a person reads during an incident.

``failover_outcome`` is the engine's (plugins/module_utils/outcome.py): the outcome and the next action of a run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.outcome import failover_outcome
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.times import iso_time


def _text(value):
    return "-" if value is None or value == "" else str(value)


def _seconds(result):
    total = (result.get("timings") or {}).get("total_seconds")
    return None if total is None else "%.1f" % total


def _ip_change(result):
    before, after = result.get("public_ip_before"), result.get("public_ip_after")
    if before == after:
        return before
    return "%s -> %s" % (_text(before), _text(after))


COLUMNS = (
    ("instance", lambda r: r.get("instance_id")),
    ("type", lambda r: r.get("instance_type")),
    ("from", lambda r: r.get("source_host_id")),
    ("to", lambda r: r.get("target_host_id")),
    ("was", lambda r: r.get("original_state")),
    ("now", lambda r: r.get("final_state")),
    ("status", lambda r: r.get("status")),
    ("seconds", _seconds),
    ("attempts", lambda r: r.get("attempts")),
    ("forced", lambda r: "yes" if r.get("force_stop_used") else "no"),
    ("public ip", _ip_change),
    ("error", lambda r: r.get("error") or r.get("reason")),
    ("notes", lambda r: "; ".join(r.get("notes") or [])),
)


def _rows(results):
    return [[_text(extract(result)) for _name, extract in COLUMNS] for result in results]


def summary_table(results):
    """An aligned text table, one line per instance, as a list of lines."""
    header = [name for name, _extract in COLUMNS]
    rows = _rows(results)
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header] + rows]


def summary_markdown(results):
    """The same table in Markdown."""
    header = [name for name, _extract in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in _rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def instance_line(result):
    """One line for one instance's outcome."""
    line = "%s %s: %s -> %s, %s (was %s, now %s)" % (
        _text(result.get("instance_id")),
        _text(result.get("status")),
        _text(result.get("source_host_id")),
        _text(result.get("target_host_id")),
        "%s s" % _seconds(result) if _seconds(result) else "no time taken",
        _text(result.get("original_state")),
        _text(result.get("final_state")),
    )
    if result.get("force_stop_used"):
        line += ", force-stopped"
    if result.get("public_ip_before") != result.get("public_ip_after"):
        line += ", public IP %s" % _ip_change(result)
    if result.get("error") or result.get("reason"):
        line += ": " + (result.get("error") or result.get("reason"))
    if result.get("notes"):
        line += " [" + "; ".join(result["notes"]) + "]"
    return line


HOST_ROLES = {"failed": "failed host", "target": "named target host", "pool": "pool host", "new": "new host"}


def host_line(host):
    """One host of the plan: its role and reservation; a new host also its allocation time and hourly price class."""
    role = host.get("role")
    reservation = host.get("reservation_id")
    line = "%s %s" % (HOST_ROLES.get(role, "host"), host.get("host_id"))
    if role == "new":
        when = host.get("allocation_time")
        line += (" allocated at %s" % when) if when else " (to be allocated)"
        if host.get("price_class") == "reserved":
            return line + ": reserved (%s)" % reservation
        price = host.get("hourly_price")
        return line + ": on-demand, " + ("%s USD/hour" % ("%g" % price) if price is not None else "price unknown")
    if role == "failed":
        return line + (": reserved (%s), it keeps its reservation" % reservation if reservation else ": on-demand (no reservation)")
    return line + (": reserved (%s)" % reservation if reservation else ": no reservation")


def plan_lines(plan):
    """The placement plan, before anything is stopped, as a list of lines."""
    lines = []
    for placement in plan.get("placements", []):
        lines.append(
            "%s (%s) -> %s (%s host)"
            % (placement.get("instance_id"), placement.get("instance_type"), placement.get("target_host_id"), placement.get("target_source", "pool"))
            + ("; " + "; ".join(placement["notes"]) if placement.get("notes") else "")
        )
    for skipped in plan.get("skipped", []):
        lines.append("%s skipped: %s" % (skipped.get("instance_id"), skipped.get("reason")))
    if plan.get("hosts"):
        lines.extend(host_line(host) for host in plan["hosts"])
    else:
        for host_id in plan.get("allocated_host_ids", []):
            lines.append("new host %s allocated for this failover" % host_id)
    for unplaced in plan.get("unplaced", []):
        lines.append("%s has no place: %s" % (unplaced.get("instance_id"), unplaced.get("reason")))
    return lines or ["nothing to move"]


# Instances a failover leaves on the failed host, by status: preflight skipped them, or instance_ids left them out.
LEFT_ON_HOST = (("skipped", "skipped"), ("untouched", "untouched (not in instance_ids)"))
UNTOUCHED_REASON = "not in instance_ids: left on the failed host as it is"


def left_on_failed_host(results, host_id):
    """``N instance(s) left on failed host <host>: skipped`` (each kind counted when there are several), or ''."""
    counts = [(label, sum(1 for result in results or [] if result.get("status") == status)) for status, label in LEFT_ON_HOST]
    counts = [(label, count) for label, count in counts if count]
    if not counts:
        return ""
    total = sum(count for _label, count in counts)
    kinds = counts[0][0] if len(counts) == 1 else ", ".join("%d %s" % (count, label) for label, count in counts)
    return "%d instance(s) left on failed host %s: %s" % (total, host_id, kinds)


def summary_headline(results, host_id, outcome, check_mode=False, host_label=""):
    """The first line of the summary and of the final notification: the outcome, and what stays on the failed host."""
    line = "Failover of %s%s: %s" % (host_label, host_id, outcome.upper())
    if check_mode:
        line += " (check mode: nothing was changed)"
    left = left_on_failed_host(results, host_id)
    return "%s; %s" % (line, left) if left else line


def untouched_results(instances, instance_ids, host_id):
    """Per-instance results (like instance_placement's) for the host's instances that ``instance_ids`` leaves out;
    none when ``instance_ids`` is empty (every instance is moved). ``instances`` are host_health_info's."""
    if not instance_ids:
        return []
    wanted = set(instance_ids)
    return [
        {"instance_id": instance.get("instance_id"), "instance_type": instance.get("instance_type"), "status": "untouched",
         "source_host_id": host_id, "target_host_id": None, "original_state": instance.get("state"),
         "final_state": instance.get("state"), "reason": UNTOUCHED_REASON}
        for instance in sorted(instances or [], key=lambda entry: entry.get("instance_id") or "")
        if instance.get("instance_id") not in wanted
    ]


def summary_message(results, host_id, outcome, summary, error, next_step):
    """The body of the final notification."""
    lines = [summary_headline(results, host_id, outcome, host_label="Dedicated Host ")]
    if summary:
        lines.append(
            "Instances: %s total, %s moved, %s failed, %s skipped"
            % (summary.get("totalInstances"), summary.get("successfulMigrations"), summary.get("failedMigrations"), summary.get("skippedMigrations", 0))
            + (", %s left where they were by the cancel" % summary["cancelledMigrations"] if summary.get("cancelledMigrations") else "")
        )
    if error:
        lines.append("Error: %s" % error)
    lines.append("")
    lines.extend(instance_line(result) for result in results)
    if outcome not in ("succeeded", "planned"):
        lines.extend(["", "Next: %s" % next_step])
    return "\n".join(lines)


# The three phases a report draws for each instance: (name, markers that begin it, marker that ends it, timing key).
TIMELINE_PHASES = (
    ("stop", ("stopping", "force-stopping"), "stopped", "stop_seconds"),
    ("placement", ("stopped",), "placed", "placement_seconds"),
    ("start", ("starting",), "running", "start_seconds"),
)
MIN_BAR_PERCENT = 0.6  # so a phase of a few milliseconds is still visible


def _epoch(text):
    if not text:
        return None
    return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def _phase_span(phase, entry, result, times, floor, may_fail):
    """(state, begin, end) of one phase of one instance, in epoch seconds (begin and end None when not drawn).

    ``floor`` is where the previous phase ended; ``may_fail`` says this is the first phase not done of a failed instance.
    """
    name, begin_markers, end_marker, timing_key = phase
    original_state = result.get("original_state") or entry.get("originalState")
    if name != "placement" and original_state == "stopped":
        return "not-needed", None, None
    if name == "placement" and original_state == "stopped":
        begin_markers = (end_marker,)  # it is placed as soon as it is admitted: there is no stop before it
    begins = [times[marker] for marker in begin_markers if marker in times]
    seconds = (result.get("timings") or {}).get(timing_key)
    if end_marker in times:
        begin = max(min(begins) if begins else times[end_marker] - (seconds or 0.0), floor)
        return "done", begin, begin + seconds if seconds is not None else max(times[end_marker], begin)
    ended = _epoch(entry.get("endTime"))
    if may_fail:
        fallback = floor if floor != float("-inf") else _epoch(entry.get("startTime")) or ended or 0.0
        begin = max(min(begins) if begins else fallback, floor)
        return "failed", begin, max(ended or begin, begin)
    if begins:
        begin = max(min(begins), floor)
        return "in-progress", begin, max(ended or begin, begin)
    return "not-reached", None, None


def report_timeline(results, status):
    """Each instance's stop, placement and start phases laid on one time axis, for the HTML report."""
    migrations = (status or {}).get("instanceMigrations") or {}
    by_id = dict((result.get("instance_id"), result) for result in results or [])
    skipped = []
    rows = []
    for instance_id in list(by_id) + sorted(set(migrations) - set(by_id)):
        result, entry = by_id.get(instance_id) or {}, migrations.get(instance_id) or {}
        state = result.get("status") or entry.get("status")
        if state in ("skipped", "untouched"):  # left on the failed host: nothing to draw
            skipped.append(dict(instance_id=instance_id, reason=result.get("reason") or result.get("error") or entry.get("errorMessage") or "-"))
            continue
        times = dict((phase, _epoch(value)) for phase, value in (entry.get("phaseTimes") or {}).items())
        phases, floor, before_done = [], float("-inf"), True
        for phase in TIMELINE_PHASES:
            phase_state, begin, end = _phase_span(phase, entry, result, times, floor, state == "failed" and before_done)
            phases.append(dict(name=phase[0], state=phase_state, begin=begin, end=end))
            floor = end if end is not None else floor
            before_done = phase_state in ("done", "not-needed")
        rows.append(dict(
            instance_id=instance_id,
            instance_type=result.get("instance_type") or entry.get("instanceType"),
            status=state,
            failed=state == "failed",
            error=result.get("error") or entry.get("errorMessage"),
            original_state=result.get("original_state") or entry.get("originalState"),
            target_host_id=result.get("target_host_id") or entry.get("targetHostId"),
            force_stop_used=bool(result.get("force_stop_used", entry.get("forceStopUsed"))),
            phases=phases,
        ))
    drawn = [phase for row in rows for phase in row["phases"] if phase["begin"] is not None]
    origin = min([phase["begin"] for phase in drawn] or [0.0])
    span = max([phase["end"] - origin for phase in drawn] or [0.0]) or 1.0
    for row in rows:
        for phase in row["phases"]:
            begin, end = phase.pop("begin"), phase.pop("end")
            if begin is None:
                phase.update(offset_seconds=None, seconds=None, left_percent=0.0, width_percent=0.0)
                continue
            left = 100.0 * (begin - origin) / span
            width = max(100.0 * (end - begin) / span, MIN_BAR_PERCENT)
            phase.update(offset_seconds=round(begin - origin, 3), seconds=round(end - begin, 3),
                         left_percent=round(min(left, 100.0 - width), 2), width_percent=round(width, 2))
    started = iso_time(origin) if drawn else None
    return dict(started=started, span_seconds=round(span, 3) if drawn else 0.0, instances=rows, skipped=skipped)


class FilterModule(object):
    def filters(self):
        return {
            "failover_outcome": failover_outcome,
            "instance_line": instance_line,
            "left_on_failed_host": left_on_failed_host,
            "plan_lines": plan_lines,
            "report_timeline": report_timeline,
            "summary_headline": summary_headline,
            "summary_markdown": summary_markdown,
            "summary_message": summary_message,
            "summary_table": summary_table,
            "untouched_results": untouched_results,
        }
