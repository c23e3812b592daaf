"""The engine's plain data for ads and rings (no pydantic: this is the hot loop's state)."""

from __future__ import annotations

from typing import Any


class Ad:
    """One ad of a match: a base ad or a Fraudster proposal, with its hidden and public state."""

    __slots__ = (
        "ad_copy",
        "ad_id",
        "advertiser_id",
        "arrived_round",
        "auto_approved",
        "camouflage",
        "category",
        "classifier_draws",
        "confidence",
        "config_fingerprint",
        "content_summary",
        "copy_markers",
        "copy_revision",
        "country",
        "domain_stem",
        "fields",
        "fraud_type",
        "group",
        "impact",
        "is_proposal",
        "label",
        "late_round",
        "n_on_payment",
        "payment_id",
        "pending_blurb",
        "pending_copy",
        "pulled",
        "registrar",
        "ring_id",
        "severity",
        "shares_fingerprint",
        "signals",
        "slot_index",
        "status",
        "style",
        "targeting_fingerprint",
        "targeting_summary",
        "text_seed",
        "unpulled",
        "verdict_round",
        "view",
        "view_fraudster",
    )

    def __init__(self, ad_id: str, label: str, category: str, group: str) -> None:
        self.ad_id = ad_id
        self.label = label
        self.category = category
        self.group = group
        self.style = "plain"
        self.text_seed = 0
        self.country = ""
        self.is_proposal = False
        self.slot_index: int | None = None
        self.camouflage: tuple[str, ...] = ()
        self.impact = 0.0
        self.fraud_type = ""
        self.severity = 0.0
        self.ring_id: str | None = None
        self.advertiser_id = ""
        self.payment_id = ""
        self.registrar = ""
        self.domain_stem = ""
        self.targeting_fingerprint = ""
        self.config_fingerprint = ""
        self.ad_copy = ""
        self.copy_markers: list[str] = []
        self.targeting_summary = ""
        self.content_summary = ""
        self.copy_revision = 0
        self.arrived_round: int | None = None  # None until published
        self.late_round: int | None = None  # scheduled arrival round of a late organic ad
        self.status = "pending"  # pending | approve | reject | escalate (staged proposals: unpublished)
        self.confidence: float | None = None
        self.verdict_round: int | None = None
        self.auto_approved = False
        self.pulled: dict[str, dict[str, Any]] = {}  # target -> Finding, in pull order
        self.fields: dict[str, dict[str, Any]] | None = None  # lazily drawn evidence
        self.classifier_draws: tuple[float, float] | None = None
        self.pending_copy: str | None = None
        self.pending_blurb: str | None = None
        self.n_on_payment = 1
        self.shares_fingerprint = False
        self.signals: tuple[tuple[str, str | None, str], dict[str, Any]] | None = None  # fraudster preview
        self.unpulled: list[str] | None = None  # cached unpulled targets (canonical order); reset on pull
        self.view: dict[str, Any] | None = None  # cached public AdView; reset on every public change
        self.view_fraudster: dict[str, Any] | None = None  # the same + the Fraudster's ownership keys

    def touch(self) -> None:
        """Drop the cached views after a change to the ad's public state."""
        self.view = None
        self.view_fraudster = None

    def mode(self, target: str) -> str:
        """The column a target's fields are drawn from (§5.2/§6.2)."""
        if not self.is_proposal:
            return self.label
        return "legit" if target in self.camouflage else "fraud"


class Ring:
    """A fraud ring (§4.5)."""

    __slots__ = ("members", "ring_id", "shared_kinds", "topology")

    def __init__(self, ring_id: str, members: list[str], shared_kinds: tuple[str, ...], topology: str) -> None:
        self.ring_id = ring_id
        self.members = members
        self.shared_kinds = shared_kinds
        self.topology = topology
