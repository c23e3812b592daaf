"""A real chat-completions server on loopback for the LLM bot's tests (no mock of any client library).

``ScriptedChatServer`` is a ``http.server`` app on 127.0.0.1 (a free port) answering
``POST /v1/chat/completions`` from a script: completions, HTTP errors, slow answers, or a function of the
request body. It records every request body and its headers.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = dict[str, Any]
"""One scripted answer: {"content": str} (a completion), {"status": int} (an HTTP error), optionally
with "delay": seconds before answering; or {"fn": callable(request body) -> Reply}."""


class ScriptedChatServer:
    """A chat-completions server on 127.0.0.1 answering from ``script`` (then ``default``, repeated)."""

    def __init__(self, script: list[Reply] | None = None, default: Reply | None = None) -> None:
        self.script = list(script or [])
        self.default = default or {"content": '{"action_type": "end_turn"}'}
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers.items()))
                    reply = server.script.pop(0) if server.script else server.default
                if "fn" in reply:
                    reply = reply["fn"](body)
                if reply.get("delay"):
                    time.sleep(reply["delay"])
                if self.path != "/v1/chat/completions":
                    reply = {"status": 404}
                status = int(reply.get("status", 200))
                if status == 200:
                    payload = {"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": reply["content"]}}],
                               "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}
                else:
                    payload = {"error": {"message": reply.get("message", f"scripted {status}")}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def content(action: dict[str, Any]) -> Reply:
    """A scripted completion whose text is ``action`` as JSON."""
    return {"content": json.dumps(action)}


def smart_answer(body: dict[str, Any]) -> Reply:
    """A server-side 'model' that reads the legal ids off the prompt and answers something legal."""
    user = body["messages"][1]["content"]
    for line in user.splitlines():
        if line.startswith("verdict on a pending ad: "):
            ad = line.split(": ", 1)[1].split(", ")[0]
            return content({"action_type": "verdict", "ad_id": ad, "verdict": "reject", "confidence": 0.7,
                            "rationale": "rejecting on surface cues of the copy and category"})
        if line.startswith("propose_ad: category one of "):
            cat = line[len("propose_ad: category one of "):].split(",")[0].split(";")[0].strip()
            return content({"action_type": "propose_ad", "category": cat,
                            "ad_copy": "A friendly family shop with fair prices, easy order tracking and shipping."})
    if "flag_investigator" in user:
        return content({"action_type": "submit_audit_report"})
    return content({"action_type": "end_turn"})
