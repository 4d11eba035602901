# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn a failover's plan and per-instance results into lines a person reads during an incident."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

SUBJECT_LIMIT = 99  # SNS subjects must be under 100 characters


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
    for host_id in plan.get("allocated_host_ids", []):
        lines.append("new host %s allocated for this failover" % host_id)
    for unplaced in plan.get("unplaced", []):
        lines.append("%s has no place: %s" % (unplaced.get("instance_id"), unplaced.get("reason")))
    return lines or ["nothing to move"]


def next_action(error, results, host_id, table):
    """What the operator should do next, from the error and the failed instances."""
    text = error or ""
    if "is locked by" in text:
        return "wait for the other run to finish (see migration_status.yml), or, if it is dead, rerun after its lease expires or with break_lock=true"
    if "looks healthy" in text:
        return "check the host; rerun with force=true only if it really must be evacuated"
    if "malformed" in text or "not found" in text or "must be" in text:
        return "correct the input and rerun"
    failed = [result for result in results if result.get("status") == "failed"]
    if failed:
        return (
            "fix the cause of each failed instance (errors above), then rerun the same playbook: it resumes from the record "
            "in %s and leaves the moved instances alone; progress: migration_status.yml -e failed_host_id=%s" % (table, host_id)
        )
    if text:
        return "fix the cause above and rerun the same playbook; it resumes from the record in %s" % table
    return "nothing"


def summary_message(results, host_id, outcome, summary, error, next_step):
    """The body of the final notification."""
    lines = ["Failover of Dedicated Host %s: %s" % (host_id, outcome.upper())]
    if summary:
        lines.append(
            "Instances: %s total, %s moved, %s failed, %s skipped"
            % (summary.get("totalInstances"), summary.get("successfulMigrations"), summary.get("failedMigrations"), summary.get("skippedMigrations", 0))
        )
    if error:
        lines.append("Error: %s" % error)
    lines.append("")
    lines.extend(instance_line(result) for result in results)
    if outcome not in ("succeeded", "planned"):
        lines.extend(["", "Next: %s" % next_step])
    return "\n".join(lines)


def ascii_subject(subject):
    """An SNS subject: ASCII only, one line, under 100 characters."""
    text = " ".join(str(subject).split())
    text = text.encode("ascii", "replace").decode("ascii")
    return text if len(text) <= SUBJECT_LIMIT else text[:SUBJECT_LIMIT - 3] + "..."


class FilterModule(object):
    def filters(self):
        return {
            "ascii_subject": ascii_subject,
            "instance_line": instance_line,
            "next_action": next_action,
            "plan_lines": plan_lines,
            "summary_markdown": summary_markdown,
            "summary_message": summary_message,
            "summary_table": summary_table,
        }
