"""The relay's state as `/health` shows it: `Status`, and `Problems`, what stops relaying now.

Each kind of problem (`funds`, `refused`, `fees`, `priced out`, `stuck`, `failing`) is logged
once as `relay degraded` when it begins and once as `relay recovered` when it ends; while any
is present, `/health` is degraded with their texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .logs import fields, get_logger

log = get_logger("submitter")


@dataclass
class Status:
    alive: bool = False
    node_ok: bool = False
    last_error: str | None = None
    problem: str | None = None  # why the relay cannot relay now (funds, fees, stuck)
    next_nonce: int | None = None
    in_flight: int = 0
    sent_txs: int = 0
    counters: dict[str, int] = field(default_factory=dict)


class Problems(dict[str, str]):
    """Kind ("funds", "fees", "stuck", ...) -> what stops relaying now."""

    def __init__(self) -> None:
        super().__init__()
        self._logged: set[str] = set()

    def report(self) -> str | None:
        """Log each kind once when it appears and once when it is gone; the text for
        `/health` (None: nothing stops the relay)."""
        for kind in sorted(self.keys() - self._logged):
            log.warning("relay degraded", extra=fields(problem=kind, reason=self[kind]))
        for kind in sorted(self._logged - self.keys()):
            log.info("relay recovered", extra=fields(problem=kind))
        self._logged = set(self)
        return "; ".join(self.values()) or None
