"""The two rules every sender of a transaction or forward request follows, in one place:

* gas: an estimate is padded by a quarter plus 20,000 (`pad_gas`), enough for state that moves
  between estimate and execution (another buyer's bid, a cold slot) and for the forwarder's
  1/63 reserve;
* deadline: `seconds` after the later of the wall clock and the chain's clock
  (`deadline_after`): the chain's clock decides expiry, and a dev chain in simulated time runs
  ahead of ours.
"""

from __future__ import annotations

import time


def pad_gas(estimate: int) -> int:
    """The gas limit to sign for a call whose `eth_estimateGas` answered `estimate`."""
    return int(estimate) * 5 // 4 + 20_000


def deadline_after(seconds: int, chain_time: float | None = None) -> int:
    """Unix time `seconds` after max(wall clock, `chain_time`); without a chain time (node
    unreachable) the wall clock alone."""
    return int(max(time.time(), chain_time or 0)) + int(seconds)
