"""Rebuild a core-played match through ``RefereeEnvironment`` from its learned seats' action codes.

The learned seats' codes are decoded exactly as the codecs decode them in ``SelfPlayRunner`` (the verdict
confidence from the encoder posterior, the codec's rationale); proposal texts are the ones the core match
used (kept by slot in ``MatchTexts``); house-bot seats and the Auditor are replayed by the Python bots
themselves, which are deterministic given their seeds. The result is the referee's own record: the rules'
reference for the core's rewards and grader.
"""

from __future__ import annotations

from fraudarena.agents.rl.encoders import encode_investigator
from fraudarena.arena.core.actions import FRAUD_COMMIT, FRAUD_END, decode_proposal
from fraudarena.arena.core.batch import MatchTexts
from fraudarena.arena.referee import RefereeEnvironment
from fraudarena.arena.rng import bot_seed

from . import codecs


def replay_codes(info: MatchTexts, codes: list[int], seats: dict[str, str]) -> RefereeEnvironment:
    """Replay a match: ``codes`` are the non-bot seats' action codes in order; ``seats`` name each role's seat."""
    from fraudarena.agents import make_bot

    env = RefereeEnvironment(task_id=info.task_id, seed=info.seed, **info.overrides)
    bots = {role: make_bot(name.split(":", 1)[1], role, bot_seed(info.task_id, info.seed, role))
            for role, name in seats.items() if name.startswith("bot:")}
    it = iter(codes)
    slot = 0
    nbase = len([s for s in range(len(info.ad_ids)) if s not in info.proposal_texts])
    while not env.done:
        role = env.current_role
        assert role is not None
        bot = bots.get(role)
        if bot is not None:
            env.apply(role, bot.act(env.observe(role, text=False)))
            continue
        code = next(it)
        obs = env.observe(role, text=False)
        if role == "investigator":
            enc = encode_investigator(obs, {})
            env.apply(role, codecs.investigator_decode(code, obs, enc))
        elif code == FRAUD_END:
            env.apply(role, {"action_type": "end_turn"})
        elif code == FRAUD_COMMIT:
            env.apply(role, {"action_type": "commit_final"})
        else:
            category, camo = decode_proposal(code)
            copy, targeting, blurb = info.proposal_texts[nbase + slot]
            slot += 1
            env.apply(role, {"action_type": "propose_ad", "category": category, "camouflage": list(camo),
                             "ad_copy": copy, "targeting_summary": targeting, "landing_page_blurb": blurb,
                             "rationale": f"proposal: {category}, camouflage {', '.join(camo) or 'none'}"})
    return env
