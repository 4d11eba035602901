# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIGINT and SIGTERM during a move (Ctrl-C, an AWX job cancel) cancel it like a cancel request in the record."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import signal
from typing import Optional


class SignalCancel(object):
    """Catches SIGINT and SIGTERM while the move runs; ``self()`` names the signal caught, or None.

    Only the first signal is caught: it puts the previous handlers back, so a second one acts as it always does
    (the process stops at once, and the lease and a resumed run take it from there).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal_name: Optional[str] = None
        self._previous = {}

    def __enter__(self) -> "SignalCancel":
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._caught)
        return self

    def _caught(self, signum, _frame):
        self.signal_name = signal.Signals(signum).name
        self._restore()

    def _restore(self):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    def __exit__(self, *_exc) -> bool:
        self._restore()
        return False

    def __call__(self) -> Optional[str]:
        return self.signal_name
