# -*- coding: utf-8 -*-
# Copyright (c) 2026 dedicated_hosts.failover contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SignalCancel: the first SIGINT or SIGTERM of a move is caught and named; a second acts as it always does."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal

from ansible_collections.dedicated_hosts.failover.plugins.module_utils.signal_cancel import SignalCancel


def test_only_the_first_signal_is_caught_and_the_previous_handlers_are_put_back():
    before = {signum: signal.getsignal(signum) for signum in SignalCancel.SIGNALS}
    with SignalCancel() as caught:
        assert caught() is None
        assert all(signal.getsignal(signum) == caught._caught for signum in SignalCancel.SIGNALS)
        os.kill(os.getpid(), signal.SIGTERM)
        assert caught() == "SIGTERM"
        # Caught once: the handlers from before are back, so a second signal stops the process as usual.
        assert {signum: signal.getsignal(signum) for signum in SignalCancel.SIGNALS} == before
    assert caught.signal_name == "SIGTERM"


def test_leaving_without_a_signal_puts_the_previous_handlers_back():
    before = {signum: signal.getsignal(signum) for signum in SignalCancel.SIGNALS}
    with SignalCancel() as caught:
        pass
    assert caught() is None
    assert {signum: signal.getsignal(signum) for signum in SignalCancel.SIGNALS} == before
