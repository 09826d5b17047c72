"""Exceptions of the shared plumbing.

    GridgameError           base of everything this package raises on purpose
    └── NotHealthy          a service did not become healthy in time, or its process ended
                            first; also a ``TimeoutError``

A request body over a service's limit is not raised to callers: the service answers 413
(``gridgame.http.BodyTooLarge``, an HTTP exception).
"""

from __future__ import annotations


class GridgameError(Exception):
    """Base of every error raised by `gridgame`."""


class NotHealthy(GridgameError, TimeoutError):
    """The service did not become healthy in time, or its process ended while we waited."""
