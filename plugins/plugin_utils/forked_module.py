# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection's modules in a fork of the controller instead of a new Python process.

On the controller's local connection every module of this collection would start a new Python, import
boto3, botocore and amazon.aws and parse EC2's service model: about a second of each module task, with no
AWS call made. Ansible imports an action plugin in the controller before it forks the worker that runs the
task, so each action plugin of this collection imports its module (and with it the engine and boto3) and
loads the AWS service models once, in the controller. The task then forks that warm process: the child
runs the module exactly as AnsiballZ would (the same arguments, its own process, its own exit status and
signals, output on its own stdout) and the action plugin parses the result as Ansible parses any module's.

Anything else (another connection, become, async, another Python interpreter for the host, a controller
without boto3) takes Ansible's ordinary path, so the modules keep working wherever amazon.aws's would.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import json
import os
import runpy
import signal
import sys
import tempfile
import time
import traceback

from ansible import constants as C
from ansible.module_utils import basic
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.clean import remove_internal_keys

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.aws import REQUEST_BUDGET_DIR_ENV
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease_keeper import RUN_PID_ENV
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.placement import PROGRESS_FILE_ENV

try:  # ansible-core 2.19 and later: module arguments and results go through a serialization profile
    from ansible.module_utils.common.json import Direction, get_module_encoder
except ImportError:
    Direction = get_module_encoder = None

try:
    import botocore.loaders
    import botocore.session
except ImportError:
    botocore = None

# The JSON profile of this collection's modules (ansible-core 2.19 and later): AnsiballZ's default.
PROFILE = "legacy"
# How often the worker looks at the child's progress while it runs: soon after the fork, since most module runs
# take a fraction of a second (a fixed half-second wait would cost every module task that much), then less often.
FIRST_WATCH_SECONDS = 0.01
WATCH_SECONDS = 0.5
# The services the engine creates clients for; their models are loaded once, in the controller.
SERVICES = ("ec2", "dynamodb", "sns", "sts")

# botocore's own factory; the child's sessions get _shared_loader instead.
_create_loader = botocore.loaders.create_loader if botocore else None
_shared_loaders = {}
display = Display()


def _shared_loader(search_path_string=None):
    """botocore's create_loader, but one loader (and its cache of parsed models) per data path."""
    loader = _shared_loaders.get(search_path_string)
    if loader is None:
        loader = _shared_loaders[search_path_string] = _create_loader(search_path_string)
    # boto3 appends its own data folder to the loader of each session it makes: keep the list from growing.
    loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return loader


def _warm_service_models():
    """Parse the service models, endpoints and partitions the engine's clients need, into the shared loader."""
    session = botocore.session.Session()
    session.register_component("data_loader", _shared_loader(session.get_config_variable("data_path")))
    for service in SERVICES:
        # Credentials given, so no lookup; creating a client makes no request.
        session.create_client(service, region_name="us-east-1", aws_access_key_id="preload", aws_secret_access_key="preload")


def preload(module_name):
    """Import the module (and so the engine and boto3) in the controller; False when it cannot be imported here."""
    try:
        importlib.import_module(module_name)
    except Exception:  # pylint: disable=broad-except
        # Not importable in the controller (a missing library, say): Ansible's ordinary path runs and reports it.
        return False
    if botocore is not None and not _shared_loaders:
        try:
            _warm_service_models()
        except Exception:  # pylint: disable=broad-except
            # A controller whose botocore cannot build a client: the module reports it, as without a warm start.
            _shared_loaders.clear()
    return True


class ForkedModuleAction(ActionBase):
    """Run ``MODULE`` (a module of this collection, by Python name) in a fork of the warm worker."""

    MODULE = None
    PRELOADED = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ForkedModuleAction, self).run(tmp, task_vars)
        del tmp
        if not self._can_fork(task_vars):
            result.update(self._execute_module(module_name=self._task.action, task_vars=task_vars))
            return result
        module_args = dict(self._task.args)
        self._update_module_args(self._task.action, module_args, task_vars)
        result.update(self._run_forked(module_args))
        return result

    def _can_fork(self, task_vars):
        if not (self.PRELOADED and hasattr(os, "fork")):
            return False
        if self._connection.transport not in ("local", "ansible.builtin.local"):
            return False
        if self._task.async_val or self._play_context.become:
            return False
        interpreter = task_vars.get("ansible_python_interpreter")
        if interpreter:
            interpreter = self._templar.template(interpreter)
        return not interpreter or os.path.abspath(interpreter) == os.path.abspath(sys.executable)

    def _run_forked(self, module_args):
        environment = {}  # the task's environment keyword, as Ansible would prefix the module's command with it
        self._compute_environment_string(environment)
        # ansible-playbook's own temporary folder (removed when it exits) holds the run's shared EC2 request buckets:
        # every host of a failed_host_ids run draws from one budget.
        environment.setdefault(REQUEST_BUDGET_DIR_ENV, C.DEFAULT_LOCAL_TMP)
        # The process that runs the playbook (this worker's parent): the lease keeper lives as long as it does, where
        # /proc cannot name the ansible-playbook process (lease_keeper.find_run_process).
        environment[RUN_PID_ENV] = os.getppid()
        with tempfile.NamedTemporaryFile(mode="rb", dir=C.DEFAULT_LOCAL_TMP, prefix="progress-") as progress:
            # The module's progress lines (a long move's), shown as they come instead of only in the result at the end.
            environment[PROGRESS_FILE_ENV] = progress.name
            res = run_in_fork(self.MODULE, encode_arguments(module_args), environment,
                              while_running=lambda: _show_lines(progress))
            _show_lines(progress)
        self._used_interpreter = sys.executable
        data = self._parse_returned_data(res, PROFILE) if get_module_encoder else self._parse_returned_data(res)
        remove_internal_keys(data)
        return data


def encode_arguments(module_args):
    """The module's arguments as AnsiballZ hands them to a module."""
    params = dict(ANSIBLE_MODULE_ARGS=module_args)
    if get_module_encoder:
        return json.dumps(params, cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)).encode("utf-8")
    from ansible.module_utils.common.json import AnsibleJSONEncoder  # pylint: disable=import-outside-toplevel

    return json.dumps(params, cls=AnsibleJSONEncoder, vault_to_text=True).encode("utf-8")


def _show_lines(progress):
    """Show the complete lines the module added to its progress file since the last call."""
    for line in progress.readlines():
        if not line.endswith(b"\n"):  # the module is writing it now: read it whole next time
            progress.seek(-len(line), os.SEEK_CUR)
            break
        display.display("  %s" % _text(line).rstrip("\n"))


def run_in_fork(module_name, params, environment=None, while_running=None):
    """Run the module in a child of this process (``environment`` added to its own); returns its rc, stdout and
    stderr, as a module process's. ``while_running`` is called until the child exits: often at first, then about
    twice a second."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            _run_child(module_name, params, environment or {}, stdout.fileno(), stderr.fileno())
        watch = FIRST_WATCH_SECONDS
        while True:
            done, status = os.waitpid(pid, os.WNOHANG if while_running else 0)
            if done:
                break
            while_running()
            time.sleep(watch)
            watch = min(WATCH_SECONDS, watch * 2)
        stdout.seek(0)
        stderr.seek(0)
        return dict(rc=_exit_code(status), stdout=_text(stdout.read()), stderr=_text(stderr.read()))


def _text(data):
    return data.decode("utf-8", "surrogateescape")


def _exit_code(status):
    """As subprocess reports it: the exit status, or minus the signal that ended the child."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _run_child(module_name, params, environment, stdout_fd, stderr_fd):
    """In the child: run the module as AnsiballZ runs it, then exit without returning to Ansible's code."""
    code = 1
    try:
        # A new Python process's signal dispositions, not the worker's (which forwards signals to its group).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        sys.stdout = open(1, "w", encoding="utf-8", errors="surrogateescape", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="surrogateescape", closefd=False)
        sys.stdin = open(os.devnull, "r", encoding="utf-8")
        os.environ.update((str(key), str(value)) for key, value in environment.items())
        if botocore is not None and _shared_loaders:
            botocore.session.create_loader = _shared_loader
        basic._ANSIBLE_ARGS = params
        # Run as __main__ from its source, as AnsiballZ does; its imports (the engine, boto3) stay loaded.
        sys.modules.pop(module_name, None)
        if get_module_encoder:
            basic._ANSIBLE_PROFILE = PROFILE
        runpy.run_module(module_name, run_name="__main__", alter_sys=True)
        sys.stderr.write("module %s did not exit with a result\n" % module_name)
    except SystemExit as exit_request:
        code = exit_request.code if isinstance(exit_request.code, int) else (0 if exit_request.code is None else 1)
    except BaseException:  # pylint: disable=broad-except
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
