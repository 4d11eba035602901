# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Modules run in a fork of the controller: the child behaves as the module's own process would."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal

import botocore.session
import pytest

from ansible_collections.dedicated_hosts.failover.plugins.plugin_utils import forked_module

RECORD_INFO = "ansible_collections.dedicated_hosts.failover.plugins.modules.migration_record_info"
HOST = "h-0123456789abcdef0"


def run(module_args, module=RECORD_INFO):
    answer = forked_module.run_in_fork(module, forked_module.encode_arguments(module_args))
    return answer, json.loads(answer["stdout"]) if answer["stdout"].strip() else None


def test_preload_imports_the_module_and_parses_the_service_models():
    assert forked_module.preload(RECORD_INFO) is True
    loader = forked_module._shared_loader(botocore.session.Session().get_config_variable("data_path"))
    # Parsed once: the loader's cache hands out the same model object again.
    assert loader.load_service_model("ec2", "service-2") is loader.load_service_model("ec2", "service-2")


def test_preload_of_a_module_that_cannot_be_imported_says_so():
    assert forked_module.preload("ansible_collections.dedicated_hosts.failover.plugins.modules.no_such_module") is False


def test_sessions_share_one_loader_without_growing_its_search_path():
    first = forked_module._shared_loader(None)
    paths = list(first.search_paths)
    first.search_paths.append(paths[-1])  # what boto3 does for each session it makes
    assert forked_module._shared_loader(None) is first
    assert first.search_paths == paths


@pytest.mark.usefixtures("dynamodb")  # the child inherits moto's DynamoDB with the migration table
def test_a_module_run_in_a_fork_returns_its_result_and_exit_status():
    answer, result = run({"host_id": HOST})
    assert answer["rc"] == 0, answer
    assert result["found"] is False
    assert result["invocation"]["module_args"]["host_id"] == HOST


def test_a_module_that_fails_exits_non_zero_with_its_message():
    answer, result = run({"host_id": "h-bad"})
    assert answer["rc"] == 1
    assert result["failed"] is True
    assert "h-bad" in result["msg"]


def test_an_unknown_option_fails_as_argument_validation_does():
    answer, result = run({"host_id": HOST, "no_such_option": 1})
    assert answer["rc"] == 1
    assert "no_such_option" in result["msg"]


def test_the_child_starts_with_a_new_processs_signal_handlers():
    # The worker forwards SIGINT and SIGTERM to its group; the child must not inherit that.
    previous = signal.signal(signal.SIGTERM, lambda *args: None)
    try:
        answer = forked_module.run_in_fork("signal_probe", b"")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert answer["rc"] == 0, answer
    assert json.loads(answer["stdout"]) == {"SIGINT": "default_int_handler", "SIGTERM": "SIG_DFL"}


def test_the_tasks_environment_is_the_childs_and_only_the_childs(monkeypatch):
    monkeypatch.delenv("FORKED_MODULE_PROBE", raising=False)
    answer = forked_module.run_in_fork("signal_probe", b"environment", {"FORKED_MODULE_PROBE": 42})
    assert answer["rc"] == 0, answer
    assert json.loads(answer["stdout"]) == {"FORKED_MODULE_PROBE": "42"}
    assert "FORKED_MODULE_PROBE" not in os.environ


def test_a_child_ended_by_a_signal_reports_minus_the_signal():
    answer = forked_module.run_in_fork("signal_probe", b"kill")
    assert answer["rc"] == -signal.SIGKILL


def test_a_child_that_raises_reports_the_traceback_on_stderr():
    answer = forked_module.run_in_fork("signal_probe", b"raise")
    assert answer["rc"] == 1
    assert "RuntimeError: raised on purpose" in answer["stderr"]


@pytest.fixture(autouse=True)
def signal_probe(tmp_path, monkeypatch):
    """A stand-in module that reports the child's signal handlers (or dies or raises, as its arguments say)."""
    (tmp_path / "signal_probe.py").write_text(
        "import json, os, signal, sys\n"
        "from ansible.module_utils import basic\n"
        "if basic._ANSIBLE_ARGS == b'kill':\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "if basic._ANSIBLE_ARGS == b'sleep':\n"
        "    import time; time.sleep(1.2)\n"
        "    sys.exit(0)\n"
        "if basic._ANSIBLE_ARGS == b'environment':\n"
        "    print(json.dumps({'FORKED_MODULE_PROBE': os.environ.get('FORKED_MODULE_PROBE')}))\n"
        "    sys.exit(0)\n"
        "if basic._ANSIBLE_ARGS == b'raise':\n"
        "    raise RuntimeError('raised on purpose')\n"
        "names = {signal.default_int_handler: 'default_int_handler', signal.SIG_DFL: 'SIG_DFL'}\n"
        "print(json.dumps(dict((name, names.get(signal.getsignal(getattr(signal, name)), 'other')) for name in ('SIGINT', 'SIGTERM'))))\n"
        "sys.exit(0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_lines_are_shown_while_the_child_runs_and_a_half_written_line_waits(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(forked_module.display, "display", shown.append)
    progress_path = tmp_path / "progress"
    progress_path.write_bytes(b"")
    with open(str(progress_path), "rb") as progress:
        with open(str(progress_path), "ab") as writer:
            writer.write(b"h-1: 0/2 instances done\nh-1: 1/2")
            writer.flush()
            forked_module._show_lines(progress)
            assert shown == ["  h-1: 0/2 instances done"]
            writer.write(b" instances done\n")
            writer.flush()
            forked_module._show_lines(progress)
    assert shown[1:] == ["  h-1: 1/2 instances done"]


def test_while_running_is_called_until_the_child_exits():
    calls = []
    answer = forked_module.run_in_fork("signal_probe", b"sleep", while_running=lambda: calls.append(1))
    assert answer["rc"] == 0, answer
    assert len(calls) >= 1


def test_the_worker_looks_soon_after_the_fork_then_backs_off_to_half_a_second(monkeypatch):
    # Most module runs last a fraction of a second: a first look after a fixed half second would cost each that much.
    waits = []
    real_sleep = forked_module.time.sleep

    def recorded_sleep(seconds):
        waits.append(seconds)  # the parent's list: the child records into its own copy
        real_sleep(seconds)

    monkeypatch.setattr(forked_module.time, "sleep", recorded_sleep)
    answer = forked_module.run_in_fork("signal_probe", b"sleep", while_running=lambda: None)

    assert answer["rc"] == 0, answer
    assert waits[0] == forked_module.FIRST_WATCH_SECONDS < forked_module.WATCH_SECONDS
    assert waits[1:] == [min(forked_module.WATCH_SECONDS, earlier * 2) for earlier in waits[:-1]]
    assert waits[-1] == forked_module.WATCH_SECONDS  # the probe sleeps 1.2 s: long enough to reach the cap
