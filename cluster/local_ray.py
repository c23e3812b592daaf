"""Starting a small local Ray for the embedded server and the test suite, without the known traps.

* Workers must import ``fraudarena``: when the package is not installed, the directory holding it is
  put on ``PYTHONPATH`` before ``ray.init`` (a ``runtime_env`` would double every actor's start time).
* A local ``ray.init()`` silently writes ``~/.ray/auth_token`` unless ``RAY_AUTH_MODE`` is set, which
  later turns token auth on for ``ray start --head`` and breaks ``serve deploy``; ``start`` sets
  ``RAY_AUTH_MODE=disabled`` for loopback-only clusters unless the caller chose a mode.
* The GCS keeps the events of the last 100,000 tasks by default, and every actor call is a task: a served
  arena makes hundreds per match, so the GCS grows for hours before it levels off. ``start`` bounds that
  table at ``TASK_EVENTS_IN_GCS`` unless ``RAY_task_events_max_num_task_in_gcs`` is set
  (docs/operations.md#memory).
"""

from __future__ import annotations

import os
from pathlib import Path

import ray

TASK_EVENTS_IN_GCS = 2_000  # tasks whose events the local GCS keeps (Ray's default: 100,000)


def package_parent() -> str | None:
    """The directory to put on PYTHONPATH so ``import fraudarena`` works in workers (None if installed)."""
    import importlib.util

    spec = importlib.util.find_spec("fraudarena")
    if spec is None or spec.origin is None:
        return None
    here = Path(spec.origin).parent  # a ``fraudarena`` dir (or symlink) on sys.path, not an editable install
    return str(here.parent) if here.name == "fraudarena" else None


def export_pythonpath() -> None:
    parent = package_parent()
    if parent is None:
        return
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if parent not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([parent, *parts])


def start(num_cpus: int | None = 2, auth_mode: str | None = None, **kwargs) -> bool:
    """``ray.init`` a local cluster if none is connected; True when this call started it."""
    if ray.is_initialized():
        return False
    export_pythonpath()
    os.environ.setdefault("RAY_AUTH_MODE", auth_mode or "disabled")
    os.environ.setdefault("RAY_task_events_max_num_task_in_gcs", str(TASK_EVENTS_IN_GCS))  # inherited by the GCS
    kwargs.setdefault("include_dashboard", False)
    kwargs.setdefault("log_to_driver", False)
    # A new local cluster, never one that another process started with ``ray start`` on this machine
    # (without "local", ray.init joins the latest of those, and refuses num_cpus there).
    kwargs.setdefault("address", "local")
    ray.init(num_cpus=num_cpus, **kwargs)
    return True
