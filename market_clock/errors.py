"""Exceptions of the market clock.

ClockError              base of everything this package raises
├── StartupError        the clock cannot run at all (no CLOCK_ROLE, no time control, ...);
│                       raised before the loop starts, the process exits 1 with the message
├── Transient           the node or the queue is unavailable or answered unexpectedly;
│                       the loop backs off and tries again, it never crashes on these
└── Fatal               an action is refused for a reason waiting cannot change (gas above
                        the queue's limit per request, a contract the queue does not relay,
                        a role the clock lost): the loop stops and the process exits 1
                        with the message, rather than retry for ever
"""

from __future__ import annotations


class ClockError(Exception):
    """Base of every error raised by `market_clock`."""


class StartupError(ClockError):
    pass


class Transient(ClockError):
    pass


class Fatal(ClockError):
    pass
