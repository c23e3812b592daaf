"""The game package stays pure: importing it pulls in no Ray, torch or web stack (docs/dev/contract.md)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("ray", "torch", "fastapi", "starlette", "websockets", "uvicorn")

SCRIPT = r"""
import importlib, json, pkgutil, sys
import fraudarena.{pkg} as pkg
names = [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")] if {walk} else []
for name in names:
    importlib.import_module(name)
print(json.dumps({{"modules": names, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})}}))
"""


def _loaded(pkg: str, walk: bool) -> tuple[list[str], list[str]]:
    import json

    code = SCRIPT.format(pkg=pkg, walk=walk, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["modules"], data["loaded"]


def test_arena_imports_no_heavy_dependencies() -> None:
    modules, loaded = _loaded("arena", walk=True)
    assert "fraudarena.arena.referee" in modules and "fraudarena.arena.rng" in modules
    assert loaded == []


def test_agents_package_imports_no_ray_or_web_stack() -> None:
    _, loaded = _loaded("agents", walk=False)
    assert not [m for m in loaded if m.split(".")[0] in ("ray", "fastapi", "starlette", "uvicorn", "websockets")]


def test_every_agents_module_imports_no_ray_or_server_stack() -> None:
    """Every module of agents/ (bots, the RL stack, the client, LLM agents) loads without Ray or a web server;
    only the WebSocket client library is allowed (the client is an agent's side of the protocol)."""
    modules, loaded = _loaded("agents", walk=True)
    assert "fraudarena.agents.rl.core_runner" in modules and "fraudarena.agents.rl.trainer" in modules
    assert not [m for m in loaded if m.split(".")[0] in ("ray", "fastapi", "starlette", "uvicorn")]


def test_envs_package_imports_no_ray_torch_or_web_stack() -> None:
    modules, loaded = _loaded("envs", walk=True)
    assert "fraudarena.envs.aec" in modules and "fraudarena.envs.gym_env" in modules
    assert loaded == []
