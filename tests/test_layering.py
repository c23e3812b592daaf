"""The game package stays pure: importing it pulls in no Ray, torch or web stack (docs/dev/contract.md)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("ray", "torch", "fastapi", "starlette", "websockets", "uvicorn")

SCRIPT = r"""
import importlib, json, pkgutil, sys
import fraudarena.{pkg} as pkg
names = [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")] if {walk} else []
names = [n for n in names if n not in {skip!r}]
for name in names:
    importlib.import_module(name)
print(json.dumps({{"modules": names, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})}}))
"""


def _loaded(pkg: str, walk: bool, skip: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    import json

    code = SCRIPT.format(pkg=pkg, walk=walk, heavy=HEAVY, skip=list(skip))
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
    """Every envs module (PettingZoo, Gymnasium, the shared encoding) loads without Ray, torch or a web stack;
    the RLlib adapter, which imports Ray, lives in ``cluster/`` (only cluster/ and serve/ import Ray)."""
    modules, loaded = _loaded("envs", walk=True)
    assert "fraudarena.envs.aec" in modules and "fraudarena.envs.gym_env" in modules
    assert loaded == []


def test_the_rllib_adapter_loads_no_web_stack() -> None:
    _, loaded = _loaded("cluster.rllib_env", walk=False)
    assert "ray" in loaded and "torch" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("fastapi", "starlette", "uvicorn")]


def test_served_domain_imports_no_ray_torch_or_web_stack() -> None:
    """The served-match domain (live matches, hosts, tokens, matchmaking, archive) is plain Python."""
    modules, loaded = _loaded("served", walk=True)
    assert "fraudarena.served.live_match" in modules and "fraudarena.served.local_backend" in modules
    assert loaded == []


def test_cluster_and_serve_modules_all_load() -> None:
    """Every module of the Ray placement and the web app imports cleanly (not only the package ``__init__``s)."""
    modules, loaded = _loaded("cluster", walk=True)
    assert "fraudarena.cluster.match_actor" in modules and "ray" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("fastapi", "starlette", "uvicorn")]
    modules, _ = _loaded("serve", walk=True)
    assert "fraudarena.serve.app" in modules and "fraudarena.serve.deployment" in modules


# Imports run one way: arena <- agents <- served <- cluster <- serve <- cli (envs sits beside agents).
LAYERS = {"arena": 0, "agents": 1, "envs": 1, "served": 2, "cluster": 3, "serve": 4, "cli": 5}


def _fraudarena_imports(path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fraudarena."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "fraudarena":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("fraudarena."))
    return found


def test_imports_run_one_way_in_every_module() -> None:
    """No module imports a layer above its own, lazily inside a function or not."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    wrong = []
    for layer, rank in LAYERS.items():
        files = [root / "cli.py"] if layer == "cli" else sorted((root / layer).rglob("*.py"))
        assert files, layer
        for path in files:
            for target in _fraudarena_imports(path):
                if LAYERS.get(target, -1) > rank:
                    wrong.append(f"{path.relative_to(root)} imports fraudarena.{target}")
    assert wrong == []
