# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease keeper: it holds a run's lease between the run's module processes, for as long as the run lives.

A failover is several module tasks (acquire, plan, the operator's pre_failover_tasks, the move, settle, finalize),
each its own process. A module renews the lease while it runs (MigrationRecord.heartbeat/keep_lease), but between
two of them nothing would: a long pre_failover_tasks hook or a slow controller would let the lease lapse and another
run take the failover over half-way. So migration_record's acquire starts a keeper: a detached process (double fork,
its own session, stdin, stdout and stderr on /dev/null, none of the module's other file descriptors) that renews the
lease every third of it, with MigrationRecord.renew() (conditional on ``LeaseRunId`` being the run's), while the
run's ansible-playbook process is alive and not stopped.

The run's own finalize or release stops it first (stop_lease_keeper: SIGTERM to the pid the keeper left in its pid
file, then a wait for it to be gone), so that no renewal of the keeper's reaches the record after the run's last
write. Otherwise it ends within CHECK_SECONDS once that process is gone (ended, killed, or a zombie), and at the first
renewal the record refuses: the run finalized or released the record, was cancelled (finalize then clears the lease too), or
another run took the lease over. While the process is stopped (SIGSTOP, job control) it renews nothing, so a paused
run loses its lease exactly as it would without a keeper; a suspended machine suspends the keeper with it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import hashlib
import os
import signal
import tempfile
import time
from typing import Any
from typing import Callable
from typing import Mapping
from typing import Optional

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.exceptions import LeaseLostError
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.lease import lease_clock
from ansible_collections.dedicated_hosts.failover.plugins.module_utils.record import MigrationRecord

try:
    import ctypes
except ImportError:  # a Python built without it: the keeper keeps the module's process name
    ctypes = None

RUN_ALIVE = "alive"
RUN_STOPPED = "stopped"
RUN_GONE = "gone"
# How often the keeper looks at the run's process: the longest it outlives the run.
CHECK_SECONDS = 1.0
# The pid of the process that runs the playbook, which the collection's action plugins pass to the modules they fork
# (the worker's parent); used where /proc has no ansible-playbook ancestor to offer.
RUN_PID_ENV = "DEDICATED_HOSTS_FAILOVER_RUN_PID"
PLAYBOOK_COMMAND = "ansible-playbook"
# The keeper's process name (ps, top, /proc/<pid>/comm) on Linux.
KEEPER_NAME = b"lease-keeper"
_PR_SET_NAME = 15
PROC = "/proc"
# /proc states of a process that has ended: a zombie (not reaped yet) or dead.
ENDED_STATES = ("Z", "X", "x")


def _stat(pid, proc=PROC):
    """(state, parent pid, start time) of ``pid`` from ``<proc>/<pid>/stat``, or None when there is no such process."""
    try:
        with open(os.path.join(proc, str(pid), "stat"), "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except (OSError, IOError):
        return None
    # The command name, in parentheses, may hold spaces and parentheses itself: the fields follow the last ')'.
    fields = text[text.rfind(")") + 2:].split()
    return fields[0], int(fields[1]), fields[19]


def _runs_playbook(pid, proc=PROC):
    """True when ``pid``'s command is ansible-playbook (run as ``ansible-playbook ...`` or ``python .../ansible-playbook ...``)."""
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as cmdline:
            args = cmdline.read().split(b"\0")[:2]
    except (OSError, IOError):
        return False
    return any(os.path.basename(arg.decode("utf-8", "replace")) == PLAYBOOK_COMMAND for arg in args)


class RunProcess(object):
    """The process whose life bounds the keeper's: its pid and, where /proc has it, its start time, so that a pid
    reused after the run ended is not taken for the run."""

    def __init__(self, pid: int, start_time=None, proc: str = PROC):
        self.pid = pid
        self.start_time = start_time
        self.proc = proc

    def state(self) -> str:
        """RUN_ALIVE, RUN_STOPPED (state T or t in /proc: SIGSTOP, job control, a tracer) or RUN_GONE (ended, a zombie,
        or its pid now another process's). Without /proc, alive while signal 0 reaches it."""
        if self.start_time is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return RUN_GONE
            except PermissionError:  # it exists, under another user
                pass
            return RUN_ALIVE
        stat = _stat(self.pid, self.proc)
        if stat is None or stat[2] != self.start_time or stat[0] in ENDED_STATES:
            return RUN_GONE
        return RUN_STOPPED if stat[0] in ("T", "t") else RUN_ALIVE


def find_run_process(parent_pid: Optional[int] = None, proc: str = PROC, environ: Optional[Mapping[str, str]] = None) -> Optional[RunProcess]:
    """The ansible-playbook process this module process belongs to, as a RunProcess, or None when there is none.

    With /proc: the nearest ancestor running ansible-playbook, and above it every parent that runs it too: a worker
    is a fork of ansible-playbook with the same command line, and it ends with its task, so the run is the topmost of
    that chain (under ansible-runner or AWX, the processes above it run something else). Without such an ancestor:
    the pid the action plugin passed in RUN_PID_ENV (the worker's parent). None otherwise (a module run on a remote
    host, say): then no keeper runs and the lease lives from one module to the next as it always did.
    """
    environ = os.environ if environ is None else environ
    pid = os.getppid() if parent_pid is None else parent_pid
    found = None
    while pid > 1:
        stat = _stat(pid, proc)
        if stat is None:
            break
        if _runs_playbook(pid, proc):
            found = RunProcess(pid, stat[2], proc)
        elif found is not None:
            break
        pid = stat[1]
    if found is not None:
        return found
    passed = environ.get(RUN_PID_ENV, "")
    if not passed.isdigit() or int(passed) <= 1:
        return None
    if os.path.isdir(proc):
        stat = _stat(int(passed), proc)
        return RunProcess(int(passed), stat[2], proc) if stat else None
    return RunProcess(int(passed))


def keep_lease(record: MigrationRecord, run: RunProcess, lease_seconds: float, clock: Callable[[], float] = lease_clock,
               sleep: Callable[[float], Any] = time.sleep) -> str:
    """Renew ``record``'s lease every third of ``lease_seconds`` while ``run`` is alive and not stopped; why it ended.

    ``run ended`` when the process is gone, ``lease lost`` when a renewal was refused (the record finalized,
    released, cancelled or taken over). The first renewal is due a third of a lease after the call (acquire just
    took the lease). A renewal that fails otherwise (the network, expired credentials) is tried again at the next
    look while the run lives. ``clock`` and ``sleep`` are injectable for tests.
    """
    period = lease_seconds / 3.0
    renewed_at = clock()
    while True:
        state = run.state()
        if state == RUN_GONE:
            return "run ended"
        started = clock()
        if state == RUN_ALIVE and started - renewed_at >= period:
            try:
                record.renew(lease_seconds)
            except LeaseLostError:
                return "lease lost"
            except Exception:  # pylint: disable=broad-except
                pass  # tried again at the next look; the lease still has two thirds of it to run
            else:
                renewed_at = started
        sleep(min(CHECK_SECONDS, period))


def start_lease_keeper(dynamodb_client: Any, table: str, record_key: str, run_id: str, owner: str,
                       lease_seconds: float) -> Optional[int]:
    """Start the keeper of run ``run_id``'s lease on ``record_key``, detached; the run's pid, or None when this
    process belongs to no ansible-playbook run (then nothing is started).

    ``dynamodb_client`` must be a client this process has not used yet: the keeper makes its own connections. The
    keeper's result is seen in the record only; it prints nothing and writes nothing but the lease.
    """
    run = find_run_process()
    if run is None:
        return None
    record = MigrationRecord(dynamodb_client, table, record_key, run_id, owner=owner)
    child = os.fork()
    if child:
        os.waitpid(child, 0)  # the first child exits as soon as it has forked the keeper
        return run.pid
    code = 0
    try:
        os.setsid()  # no terminal, no process group of the run: its signals (Ctrl-C, SIGSTOP to the group) pass it by
        if os.fork():
            os._exit(0)
        _detach()
        _write_pid_file(keeper_pid_file(table, record_key, run_id))
        keep_lease(record, run, lease_seconds)
    except BaseException:  # pylint: disable=broad-except
        code = 1  # nowhere to report it: the run's own renewals and fence still hold
    finally:
        os._exit(code)  # never back into the module (or Ansible's) code, no atexit handler, no buffer flushed twice


def keeper_pid_file(table: str, record_key: str, run_id: str) -> str:
    """Where the keeper of run ``run_id``'s lease on ``record_key`` leaves its pid: a folder of this user's only."""
    name = hashlib.sha1(f"{table}\0{record_key}\0{run_id}".encode("utf-8")).hexdigest()
    return os.path.join(tempfile.gettempdir(), f"dedicated-hosts-failover-keepers-{os.getuid()}", f"{name}.pid")


def _write_pid_file(path: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "w", encoding="ascii") as handle:
        handle.write(str(os.getpid()))


def _is_keeper(pid: int, proc: str = PROC) -> bool:
    """Whether ``pid`` is a lease keeper that still runs (where /proc names processes; elsewhere, whether it exists at
    all). A keeper that has ended but is not reaped yet (a zombie: its parent is init, or a container's first
    process, which may reap late) no longer runs."""
    try:
        if os.path.isdir(proc):
            with open(os.path.join(proc, str(pid), "comm"), "rb") as comm:
                named = comm.read().strip() == KEEPER_NAME
            stat = _stat(pid, proc)
            return named and stat is not None and stat[0] not in ENDED_STATES
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


def stop_lease_keeper(table: str, record_key: str, run_id: str, timeout: float = 5.0) -> bool:
    """Stop the keeper of run ``run_id``'s lease on ``record_key`` and wait until it is gone, before the run's last
    write to the record (finalize, release); whether there was one to stop. A keeper that does not go within
    ``timeout`` is left to end at its next renewal, which the record then refuses."""
    path = keeper_pid_file(table, record_key, run_id)
    try:
        with open(path, encoding="ascii") as handle:
            pid = int(handle.read().strip())
        os.unlink(path)
    except (OSError, ValueError):
        return False
    if not _is_keeper(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return False
    deadline = time.monotonic() + timeout
    while _is_keeper(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return True


def _detach():
    """Leave everything of the module's process behind but the memory: descriptors, signal handlers, name."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    # Garbage that still holds a file would close its descriptor later, when the number may be a new socket's.
    gc.collect()
    devnull = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(devnull, descriptor)
    # The module's output, the worker's pipes to ansible-playbook, its sockets: holding any of them would keep a
    # reader (Ansible, ansible-runner, a test) waiting for the keeper to end.
    os.closerange(3, _max_descriptors())
    if ctypes is not None and os.path.isdir(PROC):
        try:
            ctypes.CDLL(None).prctl(_PR_SET_NAME, KEEPER_NAME, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _max_descriptors():
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 65536)
    except (ValueError, OSError):
        return 4096
