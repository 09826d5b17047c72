"""Exceptions of the market clock.

    ClockError              base of everything this package raises
    ├── StartupError        the clock cannot run at all (no CLOCK_ROLE, no time control, ...);
    │                       raised before the loop starts, the process exits 1 with the message
    └── Transient           the node or the queue is unavailable or answered unexpectedly;
                            the loop backs off and tries again, it never crashes on these
"""

from __future__ import annotations


class ClockError(Exception):
    """Base of every error raised by `market_clock`."""


class StartupError(ClockError):
    pass


class Transient(ClockError):
    pass
