"""Finding (or creating) an arena instance's singleton actors by name, from any process of the cluster.

Names are ``<instance>-history``, ``<instance>-directory`` and ``<instance>-matchmaker`` in the settings'
namespace (default ``fraudarena``). A singleton whose configuration fingerprint differs from the caller's (a redeploy
with new settings or code) is replaced, so a stale detached actor never serves a new deployment.

``conn_alive`` is the probe a match actor installs (``served.live_match.set_conn_probe``): a connection id
names the Serve replica that holds the socket, and a seat held by a dead replica's socket is free for a
plain rejoin (docs/protocol.md#reconnecting).
"""

from __future__ import annotations

import contextlib
import time

import ray

from fraudarena.served import tokens
from fraudarena.served.settings import ArenaSettings

_DEAD_OWNERS: set[str] = set()
_ALIVE_CACHE: dict[str, float] = {}  # owner -> when it was last seen alive
ALIVE_CACHE_S = 1.0


def conn_alive(conn: str) -> bool:
    """False when ``conn`` names a Ray actor (its Serve replica) that the cluster reports dead.

    One GCS lookup per owner and second at most; a death is remembered (actor ids are never reused).
    Unknown owners and lookup failures count as alive, so a seat is never taken away by mistake.
    """
    owner = tokens.conn_owner(conn)
    if owner is None:
        return True
    if owner in _DEAD_OWNERS:
        return False
    now = time.monotonic()
    if now - _ALIVE_CACHE.get(owner, -1e9) < ALIVE_CACHE_S:
        return True
    try:
        from ray._private import state  # the GCS actor table; works without the dashboard

        info = state.actors(owner)
    except Exception:
        return True
    if isinstance(info, dict) and info.get("State") == "DEAD":
        _DEAD_OWNERS.add(owner)
        return False
    _ALIVE_CACHE[owner] = now
    if len(_ALIVE_CACHE) > 10_000:
        _ALIVE_CACHE.clear()
    return True


def _get(settings: ArenaSettings, kind: str):
    try:
        return ray.get_actor(settings.actor_name(kind), namespace=settings.namespace)
    except ValueError:
        return None


def history_handle(settings: ArenaSettings, create: bool = True):
    """The instance's ``HistoryActor`` (created if missing)."""
    from fraudarena.cluster.history_actor import HistoryActor

    handle = _get(settings, "history")
    if handle is None and create:
        handle = HistoryActor.options(name=settings.actor_name("history"), namespace=settings.namespace,
                                      lifetime="detached", get_if_exists=True,
                                      resources=dict(settings.singleton_resources)).remote(settings.model_dump())
    return handle


def directory_handle(settings: ArenaSettings, create: bool = True):
    """The instance's ``DirectoryActor`` (created if missing)."""
    from fraudarena.cluster.directory import DirectoryActor

    handle = _get(settings, "directory")
    if handle is None and create:
        # Restarted by Ray if its process dies: the new one rebuilds the live matches from their journals
        # (its match actors die with it; docs/operations.md#faults-and-recovery).
        handle = DirectoryActor.options(name=settings.actor_name("directory"), namespace=settings.namespace,
                                        lifetime="detached", get_if_exists=True, max_restarts=-1,
                                        resources=dict(settings.singleton_resources)).remote(settings.model_dump())
    return handle


def matchmaker_handle(settings: ArenaSettings, create: bool = True):
    """The instance's ``MatchmakerActor`` (created if missing; docs/protocol.md#matchmaking-queue queue)."""
    from fraudarena.cluster.matchmaker import MAX_CONCURRENCY, MatchmakerActor

    handle = _get(settings, "matchmaker")
    if handle is None and create:
        handle = MatchmakerActor.options(name=settings.actor_name("matchmaker"), namespace=settings.namespace,
                                         lifetime="detached", get_if_exists=True, max_concurrency=MAX_CONCURRENCY,
                                         resources=dict(settings.singleton_resources)).remote(settings.model_dump())
    return handle


async def ensure_matchmaker(settings: ArenaSettings):
    """The matchmaker for ``settings``, replacing one created with other settings (a redeploy)."""
    handle = matchmaker_handle(settings)
    if await handle.fingerprint.remote() != settings.model_dump_json():
        ray.kill(handle, no_restart=True)
        await _wait_gone(settings, "matchmaker")
        handle = matchmaker_handle(settings)
    return handle


async def ensure_singletons(settings: ArenaSettings):
    """(directory, history) for ``settings``, replacing either when it was created with other settings."""
    history = history_handle(settings)
    want_h = f"{settings.archive_file().resolve()}|{settings.archive_capacity}|{settings.code_version}"
    if await history.fingerprint.remote() != want_h:
        ray.kill(history, no_restart=True)
        await _wait_gone(settings, "history")
        history = history_handle(settings)
    directory = directory_handle(settings)
    if await directory.fingerprint.remote() != settings.model_dump_json():
        await directory.shutdown.remote()
        ray.kill(directory, no_restart=True)
        await _wait_gone(settings, "directory")
        directory = directory_handle(settings)
    await directory.ensure_pool.remote()
    return directory, history


async def _wait_gone(settings: ArenaSettings, kind: str, timeout_s: float = 30.0) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while _get(settings, kind) is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def kill_instance(settings: ArenaSettings) -> None:
    """Kill the instance's directory (its match actors die with it), matchmaker and history actor (the archive
    stays on disk)."""
    directory = _get(settings, "directory")
    if directory is not None:
        with contextlib.suppress(Exception):  # best effort before the kill below
            ray.get(directory.shutdown.remote(), timeout=30)
        ray.kill(directory, no_restart=True)
    matchmaker = _get(settings, "matchmaker")
    if matchmaker is not None:
        ray.kill(matchmaker, no_restart=True)
    history = _get(settings, "history")
    if history is not None:
        ray.kill(history, no_restart=True)
