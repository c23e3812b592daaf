"""The single-process baseline: the same FastAPI app with matches held in-process, served by uvicorn.

Used by the benchmark (as the reference every Serve figure is divided by) and by fast tests that need
real sockets without Ray. ``UvicornThread`` runs a server on 127.0.0.1 on a free port in a thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import uvicorn

from fraudarena.serve.app import create_app
from fraudarena.served.local_backend import LocalBackend
from fraudarena.served.settings import ArenaSettings


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def baseline_app(settings: ArenaSettings):
    return create_app(settings, LocalBackend(settings))


class UvicornThread:
    """``with UvicornThread(app) as srv: srv.url`` — a real HTTP/WebSocket server for the block's duration."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None, ws_max_size: int = 4 * 1024 * 1024):
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", ws="websockets-sansio",
                                ws_max_size=ws_max_size, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def run_baseline(settings: ArenaSettings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the baseline in the foreground (blocking)."""
    uvicorn.run(baseline_app(settings), host=host, port=port, log_level="warning", ws="websockets-sansio")


def main(argv: list[str] | None = None) -> None:
    """``python -m fraudarena.serve.baseline --port P [--args JSON]`` (used by the benchmark)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--args", default="{}", help="ArenaSettings fields as JSON")
    ns = parser.parse_args(argv)
    print(f"baseline serving on {ns.host}:{ns.port}", flush=True)
    run_baseline(ArenaSettings(**json.loads(ns.args)), ns.host, ns.port)


if __name__ == "__main__":
    main()
