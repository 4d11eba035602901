"""The HTML report: a self-contained timeline of each instance's phases, read back by parsing it."""

import os
import re
from html.parser import HTMLParser

from scenarios import failed_host
from scenarios import load
from scenarios import on_failed
from scenarios import pool_host
from scenarios import world

PHASES = ["stop", "placement", "start"]
# Attributes through which a browser would fetch something.
FETCHING_ATTRIBUTES = {"src", "href", "data", "action", "poster", "srcset"}


class ReportParser(HTMLParser):
    """Collects the timeline rows, their phase elements, the skipped list and anything that would fetch."""

    def __init__(self):
        super().__init__()
        self.rows = {}
        self.skipped = {}
        self.fetches = []
        self.tags = set()
        self._row = None
        self._skipped_item = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.add(tag)
        self.fetches.extend("%s %s=%s" % (tag, name, value) for name, value in attrs if name in FETCHING_ATTRIBUTES and value)
        if tag == "tr" and "data-instance" in attributes:
            self._row = attributes["data-instance"]
            self.rows[self._row] = dict(status=attributes["data-status"], classes=attributes.get("class", "").split(), phases={}, text="")
        elif "data-phase" in attributes and self._row:
            self.rows[self._row]["phases"][attributes["data-phase"]] = dict(state=attributes["data-state"], style=attributes.get("style", ""))
        elif tag == "li" and "data-instance" in attributes:
            self._skipped_item = attributes["data-instance"]
            self.skipped[self._skipped_item] = ""

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None
        elif tag == "li":
            self._skipped_item = None

    def handle_data(self, data):
        if self._row:
            self.rows[self._row]["text"] += data
        if self._skipped_item:
            self.skipped[self._skipped_item] += data


def test_the_html_report_draws_every_phase_of_every_instance_and_marks_the_failed_one(simulator, migration_table, run_playbook):
    # Host maintenance off: AWS would not move the instances itself, so the failover does.
    ids = load(simulator, world([failed_host(host_maintenance="off"), pool_host()], [
        on_failed("web", count=2),
        on_failed("cold", state="stopped"),
        on_failed("store", root_device="instance-store"),
        on_failed("stuck"),
    ]))
    failed = ids["hosts"]["failed"]
    names = ids["instances"]
    simulator.control.add_fault("ec2", "StartInstances", "InsufficientInstanceCapacity", instance_id=names["stuck"], count=None)

    result = run_playbook("failover.yml", {"failed_host_id": failed})

    assert result.returncode != 0, result
    path = os.path.join(result.report_dir, "failover-%s.html" % failed)
    with open(path, encoding="utf-8") as handle:
        page = handle.read()
    parser = ReportParser()
    parser.feed(page)

    # Self-contained: nothing to fetch, no script, no stylesheet link, no URL anywhere.
    assert parser.fetches == []
    assert not parser.tags & {"script", "link", "img", "iframe", "object"}
    assert re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page, re.IGNORECASE) is None
    assert "style" in parser.tags

    moved = [names[name] for name in ("web-0", "web-1", "cold", "stuck")]
    assert sorted(parser.rows) == sorted(moved)
    for instance_id in moved:
        assert list(parser.rows[instance_id]["phases"]) == PHASES, instance_id

    stuck = parser.rows[names["stuck"]]
    assert stuck["status"] == "failed" and "failed" in stuck["classes"]
    assert "FAILED" in stuck["text"] and "InsufficientInstanceCapacity" in stuck["text"]
    assert [stuck["phases"][phase]["state"] for phase in PHASES] == ["done", "done", "failed"]
    for name in ("web-0", "web-1"):
        row = parser.rows[names[name]]
        assert row["status"] == "success" and "failed" not in row["classes"]
        assert [row["phases"][phase]["state"] for phase in PHASES] == ["done"] * 3
        # Drawn in order on the axis, each phase a visible bar.
        bars = [dict(re.findall(r"(left|width): ([0-9.]+)%", row["phases"][phase]["style"])) for phase in PHASES]
        assert all(float(drawn["width"]) > 0 for drawn in bars), bars
        assert [float(drawn["left"]) for drawn in bars] == sorted(float(drawn["left"]) for drawn in bars), bars
    # An instance that was stopped is placed, never stopped or started.
    cold = parser.rows[names["cold"]]
    assert [cold["phases"][phase]["state"] for phase in PHASES] == ["not-needed", "done", "not-needed"]

    assert list(parser.skipped) == [names["store"]]
    assert "instance-store" in parser.skipped[names["store"]]
    assert "Next:" in page and "FAILED" in page
