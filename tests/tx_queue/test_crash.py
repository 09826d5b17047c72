"""kill -9 of the queue in the middle of a burst, twice, then a restart on the same database:
every acknowledged request reaches exactly one final state and runs on chain at most once."""

from __future__ import annotations

from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from tx_queue.settings import RELAY_DEV_KEY_INDEX

from .checks import Burst, assert_exactly_once, assert_mined_or_duplicate
from .conftest import grant_admins, make_env


def test_kill_9_mid_burst_and_restart(
    w3: Web3, dev_accounts: list[LocalAccount], tmp_path: Path
) -> None:
    env = make_env(w3, dev_accounts[0], dev_accounts[RELAY_DEV_KEY_INDEX], tmp_path)
    try:
        admins = [Account.create() for _ in range(4)]
        grant_admins(env, admins)
        burst = Burst(env, admins, per=30, url=lambda: env.url).start()
        for target in (25, 60):
            burst.wait_acked(target)
            env.queue.kill()  # SIGKILL while requests are accepted and relayed
            env.queue.start()
        burst.join()
        assert len(burst.acked) >= 100  # most calls got in, some in retries
        held = assert_exactly_once(env, env.url, burst.acked)
        assert_mined_or_duplicate(held, burst.acked)
    finally:
        env.queue.stop()
