"""Shared fixtures: a real Anvil node for the session, fresh contracts per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Anvil, Deployment, account, connect, deploy


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    with Anvil(accounts=20) as node:
        yield node


@pytest.fixture(scope="session")
def w3(anvil: Anvil) -> Web3:
    return connect(anvil.url)


@pytest.fixture(scope="session")
def dev_accounts(anvil: Anvil) -> list[LocalAccount]:
    return [account(k) for k in anvil.keys]


@pytest.fixture(scope="session")
def operator(dev_accounts: list[LocalAccount]) -> LocalAccount:
    return dev_accounts[0]


@pytest.fixture
def deployment(w3: Web3, operator: LocalAccount) -> Deployment:
    return deploy(w3, operator)
