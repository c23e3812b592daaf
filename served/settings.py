"""Typed settings of the served arena, loaded once from ``ray_config.yaml``'s application arguments.

One pydantic model (``ArenaSettings``) holds every limit of docs/protocol.md#deadlines-idling-and-limits plus the
cluster's sizing
knobs (pool size, matches per actor, archive path). Unknown keys are rejected so a typo in the YAML
fails the deploy instead of silently falling back to a default.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ArenaSettings(BaseModel):
    """Every configurable knob of the served arena (defaults = docs/protocol.md#deadlines-idling-and-limits)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: str = Field("default", pattern=r"^[a-z0-9_-]{1,32}$",
                          description="Names this arena's actors; two apps on one cluster need two instances.")
    namespace: str = Field("fraudarena", description="Ray namespace of the named actors.")
    code_version: str = Field("", description="Bumped by the deploy helper so a redeploy reloads code.")
    # Protocol limits (§5).
    max_frame_bytes: int = Field(64 * 1024, ge=1024)
    close_frame_bytes: int = Field(1024 * 1024, ge=1024)
    rate_per_s: float = Field(20.0, gt=0)
    rate_burst: int = Field(40, ge=1)
    rate_close_rejections: int = Field(200, ge=1, description="Rejected frames within 10 s that close the socket.")
    max_json_depth: int = Field(64, ge=2, le=512, description="Deeper JSON nesting in any frame or body is "
                                "answered invalid_json (never parsed).")
    openenv_max_pending: int = Field(8, ge=1, le=1024, description="OpenEnv /ws: frames received but not yet "
                                     "answered per connection; more are refused (no per-second rate there).")
    ping_interval_s: float = Field(20.0, gt=0)
    ping_timeout_s: float = Field(20.0, gt=0)
    turn_timeout_s: float = Field(300.0, gt=0)
    idle_ttl_s: float = Field(900.0, gt=0)
    done_linger_s: float = Field(60.0, ge=0)
    max_live_matches: int = Field(1000, ge=1)
    open_seats: bool = Field(False, description="Join without a token; role sockets then get pushed events "
                             "only when they opt in (?events=1), as first-version clients expect none.")
    unjoined_ttl_s: float = Field(60.0, gt=0, description="A live match that nobody has ever joined (e.g. made "
                                  "by POST /api/v1/matches) is archived abandoned after this long.")
    create_per_min: float = Field(30.0, gt=0, description="Anonymous match creations (POST /api/v1/matches) "
                                  "per client address and minute, sustained.")
    create_burst: int = Field(10, ge=1, description="Burst of anonymous match creations per client address.")
    max_unjoined_matches: int = Field(0, ge=0, description="Live matches nobody has joined yet (anonymous "
                                      "creations), in total; 0: unjoined_memory_fraction of the node's memory over "
                                      "match_memory_mb (docs/operations.md#exposure-hostile-input-and-stock-clients).")
    unjoined_memory_fraction: float = Field(0.25, gt=0, le=1, description="Share of the node's memory that "
                                            "unjoined matches may hold in total (with max_unjoined_matches 0).")
    match_memory_mb: float | None = Field(None, gt=0, description="Memory one live match is taken to cost; "
                                          "default 64 with an actor per match, 2 when packed (measured).")
    min_free_memory_mb: int = Field(512, ge=0, description="No match is created while the node has less memory "
                                    "available than this (answered capacity, retry later); 0 turns it off.")
    # Matchmaking queue (docs/protocol.md#matchmaking-queue).
    queue_enabled: bool = Field(True, description="Serve the `queue` request; false answers it unknown_type.")
    queue_timeout_s: float = Field(30.0, gt=0, description="Queued seats still empty after this get house bots.")
    queue_notify_s: float = Field(10.0, gt=0, description="How often a waiting connection is sent `queued`.")
    # Archive.
    archive_path: str = Field("var/archive.sqlite3", description="SQLite file of finished matches.")
    archive_capacity: int = Field(10_000, ge=1)
    # Match journals (docs/operations.md#faults-and-recovery).
    journal_dir: str = Field("", description="Directory of the per-match journals that let a match outlive its "
                             "actor. Empty: <archive directory>/journal/<instance> on the Ray backend, none on the "
                             "single-process one; 'off' disables journaling.")
    journal_fsync: bool = Field(False, description="fsync every journal line (survives a machine crash, not only a "
                                "process kill; costs a disk flush per accepted action).")
    history_timeout_s: float = Field(3.0, gt=0, description="How long /health and the archive endpoints wait for "
                                     "the history actor before answering degraded / 503 unavailable.")
    # Cluster sizing.
    pool_size: int = Field(4, ge=0, description="Idle pre-started match actors kept ready.")
    pool_idle_s: float = Field(60.0, ge=0, description="Actors the pool held beyond pool_size for a whole "
                               "window this long are stopped (docs/operations.md#memory).")
    matches_per_actor: int = Field(1, ge=1, le=10_000)
    actor_max_concurrency: int = Field(1000, ge=8, description="Concurrent calls per (async) match actor.")
    match_actor_resources: dict[str, float] = Field(default_factory=dict, description="Custom Ray resources each "
                                                    "match actor requests: match actors go only to nodes that offer "
                                                    "them (docs/operations.md#several-nodes).")
    singleton_resources: dict[str, float] = Field(default_factory=dict, description="Custom Ray resources the "
                                                  "directory, history and matchmaker actors request, e.g. one only "
                                                  "the archive's node offers (docs/operations.md#several-nodes).")
    long_poll_s: float = Field(15.0, gt=0, description="How long a socket's event long-poll waits.")
    coalesce_max: int = Field(512, ge=1, le=100_000, description="Requests a replica sends a match host in one "
                              "call (those that queued while the previous call was in flight); 1 turns coalescing off.")
    debug_calls: bool = Field(False, description="Serve GET /api/v1/debug/calls: this replica's calls to its match "
                              "hosts by kind (benchmarks/bench_serve.py).")
    debug_memory: bool = Field(False, description="Trace the Python allocations of the replica, the directory and "
                               "every match actor (tracemalloc; several times slower) and serve GET "
                               "/api/v1/debug/memory: growth by allocation site since a baseline "
                               "(benchmarks/soak.py).")
    public_url: str = Field("", description="Base ws:// URL advertised in POST /matches answers.")
    # Learned house bots: "policy:<name>" plays the checkpoint directory mapped to <name> here.
    policies: dict[str, str] = Field(default_factory=dict,
                                     description="House-bot policy name -> checkpoint directory on every node.")
    # LLM house bots: "llm:<name>" plays the model mapped to <name> here ("<model>" or "<model>@<base url>").
    llm_bots: dict[str, str] = Field(default_factory=dict,
                                     description="House-bot LLM name -> '<model>' or '<model>@<OpenAI-compatible "
                                     "base url>' (without a URL: $FRAUDARENA_LLM_URL of the match actor). Each "
                                     "move is a blocking HTTP call inside the match host.")

    def archive_file(self) -> Path:
        return Path(self.archive_path).expanduser()

    def journal_path(self, ray_default: bool = False) -> Path | None:
        """The journal directory, or None when matches are not journaled.

        With ``journal_dir`` empty the Ray backend (``ray_default``) journals next to the archive,
        under ``journal/<instance>``; the single-process backend does not journal.
        """
        if self.journal_dir == "off":
            return None
        if self.journal_dir:
            return Path(self.journal_dir).expanduser()
        if not ray_default or self.archive_path == ":memory:":
            return None
        return self.archive_file().parent / "journal" / self.instance

    def actor_name(self, kind: str) -> str:
        """The Ray actor name of this instance's ``kind`` singleton (``directory``, ``history``)."""
        return f"{self.instance}-{kind}"
