"""gridgame: ledger_contracts — the contracts' Python side and the chain plumbing every
package shares. Import from here:

    from ledger_contracts import Deployment, Rpc, connect, decode_revert

    connect, account, transact, call      web3 with a timeout; locally signed transactions
    Rpc, RpcCall, revert_data             the lean JSON-RPC client (keep-alive, batches)
    abi_type, selector, decode_revert     ABI plumbing; reverts named by the custom error
    pad_gas, deadline_after               the gas padding and deadline rules
    FORWARD_REQUEST_TYPE, typed_data, ... the EIP-712 forward request type and domain
    Deployment, deploy, load_artifact     deployment files, deploying, build output
    EventReader, Event                    the contracts' events
    Phase, EndReason                      a game's states, one spelling (mirrors IMarket)
    load_key, read_key_file, parse_key    keys from files (hex or keystore) or the environment
    create_keystore, keystore_password    keystores: a new key, the password (env or prompt)
    Anvil, dev_keys, free_port            an embedded Anvil node
    kwh_to_wh, to_wh_bid, ...             units (on chain Wh and micro-units)
    LedgerError and its tree              `ledger_contracts.errors`

Scenarios and the in-process scripted driver, for tests, benchmarks and the demo's set-up,
are apart in `ledger_contracts.testing`.

Names are loaded on first use, so `import ledger_contracts` stays cheap (web3 is imported
only by what needs it: `connect`, `transact`, `Deployment`, `EventReader`, ...).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .abi import abi_type, decode_revert, error_table, selector, signature
    from .anvil import Anvil, dev_keys, free_port
    from .artifacts import PROJECT_CONTRACTS, Artifact, load_artifact
    from .chain import DEFAULT_RPC, account, call, connect, revert_from_exception, transact
    from .deployment import MAX_UINT256, Deployment, deploy, deploy_contract
    from .eip712 import (
        DOMAIN_FIELDS,
        DOMAIN_TYPE,
        FORWARD_REQUEST_FIELDS,
        FORWARD_REQUEST_TYPE,
        typed_data,
    )
    from .errors import (
        ArtifactNotFound,
        DeploymentError,
        LedgerError,
        LedgerRevert,
        NodeUnavailable,
        RpcError,
    )
    from .events import Event, EventReader
    from .game import EndReason, Phase
    from .keys import (
        ANVIL_CHAIN_ID,
        KEYSTORE_PASSWORD_ENV,
        create_keystore,
        key_file_address,
        keystore_password,
        load_key,
        parse_key,
        read_key_file,
    )
    from .rpc import Rpc, RpcCall, revert_data
    from .sending import deadline_after, pad_gas
    from .units import (
        MICRO,
        WH_PER_KWH,
        kwh_to_wh,
        micro_to_price,
        price_to_micro,
        to_wh_bid,
        wh_to_kwh,
    )

_HOMES = {
    "abi": ("abi_type", "decode_revert", "error_table", "selector", "signature"),
    "anvil": ("Anvil", "dev_keys", "free_port"),
    "artifacts": ("PROJECT_CONTRACTS", "Artifact", "load_artifact"),
    "chain": ("DEFAULT_RPC", "account", "call", "connect", "revert_from_exception", "transact"),
    "deployment": ("MAX_UINT256", "Deployment", "deploy", "deploy_contract"),
    "eip712": (
        "DOMAIN_FIELDS",
        "DOMAIN_TYPE",
        "FORWARD_REQUEST_FIELDS",
        "FORWARD_REQUEST_TYPE",
        "typed_data",
    ),
    "errors": (
        "ArtifactNotFound",
        "DeploymentError",
        "LedgerError",
        "LedgerRevert",
        "NodeUnavailable",
        "RpcError",
    ),
    "events": ("Event", "EventReader"),
    "game": ("EndReason", "Phase"),
    "keys": (
        "ANVIL_CHAIN_ID",
        "KEYSTORE_PASSWORD_ENV",
        "create_keystore",
        "key_file_address",
        "keystore_password",
        "load_key",
        "parse_key",
        "read_key_file",
    ),
    "rpc": ("Rpc", "RpcCall", "revert_data"),
    "sending": ("deadline_after", "pad_gas"),
    "units": (
        "MICRO",
        "WH_PER_KWH",
        "kwh_to_wh",
        "micro_to_price",
        "price_to_micro",
        "to_wh_bid",
        "wh_to_kwh",
    ),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "ANVIL_CHAIN_ID",
    "Anvil",
    "Artifact",
    "ArtifactNotFound",
    "DEFAULT_RPC",
    "DOMAIN_FIELDS",
    "DOMAIN_TYPE",
    "Deployment",
    "DeploymentError",
    "EndReason",
    "Event",
    "EventReader",
    "FORWARD_REQUEST_FIELDS",
    "FORWARD_REQUEST_TYPE",
    "KEYSTORE_PASSWORD_ENV",
    "LedgerError",
    "LedgerRevert",
    "MAX_UINT256",
    "MICRO",
    "NodeUnavailable",
    "PROJECT_CONTRACTS",
    "Phase",
    "Rpc",
    "RpcCall",
    "RpcError",
    "WH_PER_KWH",
    "abi_type",
    "account",
    "call",
    "connect",
    "create_keystore",
    "deadline_after",
    "decode_revert",
    "deploy",
    "deploy_contract",
    "dev_keys",
    "error_table",
    "free_port",
    "key_file_address",
    "keystore_password",
    "kwh_to_wh",
    "load_artifact",
    "load_key",
    "micro_to_price",
    "pad_gas",
    "parse_key",
    "price_to_micro",
    "read_key_file",
    "revert_data",
    "revert_from_exception",
    "selector",
    "signature",
    "to_wh_bid",
    "transact",
    "typed_data",
    "wh_to_kwh",
]


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
