"""Contract ABIs and bytecode, loaded from Forge's build output (`make contracts`).

Nothing hand-copies an ABI: everything here reads `build/forge/<File>.sol/<Contract>.json`.
The build directory can be moved with the environment variable GRIDGAME_BUILD_DIR.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .errors import ArtifactNotFound

REPO_ROOT = Path(__file__).resolve().parent.parent

# Every contract the project deploys; their ABIs together decode every error and event.
PROJECT_CONTRACTS = ("GridForwarder", "Market", "GridToken", "Settlement")


def build_dir() -> Path:
    return Path(os.environ.get("GRIDGAME_BUILD_DIR", REPO_ROOT / "build" / "forge"))


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def load_artifact(name: str) -> Artifact:
    path = build_dir() / f"{name}.sol" / f"{name}.json"
    if not path.is_file():
        raise ArtifactNotFound(
            f"no build output for contract {name!r} at {path}; run `make contracts` first"
        )
    data = json.loads(path.read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"]["object"])


def available_contracts() -> tuple[str, ...]:
    """The project contracts whose build output exists (settlement may come later)."""
    return tuple(n for n in PROJECT_CONTRACTS if (build_dir() / f"{n}.sol" / f"{n}.json").is_file())
