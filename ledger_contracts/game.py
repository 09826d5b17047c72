"""A game's states as `IMarket.sol` declares them, spelled one way on the Python side.

`Phase` and `EndReason` mirror the Solidity enums value for value. A state's `label` is how
every machine-readable output spells it (JSON, `/health`, `status --json`): `"ended"`,
`"round_limit"`; its `text` is the same in prose for logs and reports: `"round limit"`.
"""

from __future__ import annotations

from enum import IntEnum


class _State(IntEnum):
    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def text(self) -> str:
        return self.label.replace("_", " ")

    @classmethod
    def label_of(cls, value: int) -> str:
        """The label of `value`, or `unknown(<value>)` for a value the contract does not define."""
        try:
            return cls(value).label
        except ValueError:
            return f"unknown({value})"


class Phase(_State):
    """`IMarket.Phase`. `ENDED`: bidding is over and the allocation final, for any `EndReason`."""

    NONE = 0
    REGISTRATION = 1
    BIDDING = 2
    ENDED = 3


class EndReason(_State):
    """`IMarket.EndReason`: why bidding ended. `TIME_LIMIT`: the game's delivery end came
    first (bidding is bounded by `deliveryEnd`), `"time_limit"`, `"time limit"` in prose."""

    NONE = 0
    CONVERGED = 1
    ROUND_LIMIT = 2
    NO_PARTICIPANTS = 3
    TIME_LIMIT = 4
