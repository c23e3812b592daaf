"""The replica side of the match hosts (``served.event_mux``), without Ray: coalescing and event delivery.

A real ``MatchHost`` sits behind a link that counts its calls and, like an actor call, takes a moment
to answer, so requests arriving meanwhile must queue up and leave together.
"""

from __future__ import annotations

import asyncio

from fraudarena.agents import make_bot
from fraudarena.agents.client import my_turn
from fraudarena.arena.rng import bot_seed
from fraudarena.served.errors import ProtocolError, is_wire_error
from fraudarena.served.event_mux import EventMux
from fraudarena.served.match_host import MatchHost
from fraudarena.served.settings import ArenaSettings

ROLES = ("fraudster", "investigator", "auditor")
SETTINGS = ArenaSettings(archive_path=":memory:", long_poll_s=5.0)


class SlowLink:
    """The in-process host, each call taking ``delay_s`` as an actor call would; records every batch."""

    key = "slow"

    def __init__(self, host: MatchHost, delay_s: float = 0.02) -> None:
        self.host = host
        self.delay_s = delay_s
        self.batches: list[list[list]] = []

    async def batch(self, requests, replica):
        self.batches.append(requests)
        await asyncio.sleep(self.delay_s)
        return await self.host.handle_batch(requests, replica)

    async def poll(self, subs, wait_s, replica):
        return await self.host.poll(subs, wait_s, replica)


async def _call(mux: EventMux, link: SlowLink, request: list):
    out = await mux.call(link, request)
    if is_wire_error(out):
        raise ProtocolError.from_wire(out)
    return out


def test_requests_arriving_during_a_call_leave_together_in_order():
    async def scenario():
        host = MatchHost(SETTINGS, 100)
        link = SlowLink(host)
        mux = EventMux(5.0, "r1")
        ids = [f"m{i}" for i in range(20)]
        made = await asyncio.gather(*(_call(mux, link, ["create", m, "fraudster", f"{m}-f",
                                                        {"task_id": "task_1", "seed": i}, {}])
                                      for i, m in enumerate(ids)))
        assert [o["match_id"] for o in made] == ids
        assert [len(b) for b in link.batches] == [20]  # queued before the sender ran: one call
        late = [asyncio.ensure_future(_call(mux, link, ["summary", m])) for m in ids[:3]]
        await asyncio.sleep(0.005)  # the first of these is in flight: the rest wait for the next call
        late += [asyncio.ensure_future(_call(mux, link, ["summary", m])) for m in ids[3:]]
        assert [s["match_id"] for s in await asyncio.gather(*late)] == ids
        assert [len(b) for b in link.batches] == [20, 3, 17]
        # Per seat, requests keep their order inside a batch: seq 1 applies, its repeat is a duplicate,
        # a bad action fails alone.
        end = {"action_type": "end_turn"}
        results = await asyncio.gather(*(mux.call(link, req) for m in ids for req in (
            ["step", m, "fraudster", f"{m}-f", end, 1], ["step", m, "fraudster", f"{m}-f", end, 1],
            ["step", m, "fraudster", f"{m}-f", {"action_type": "fly"}, 2])))
        for first, dup, bad in zip(results[::3], results[1::3], results[2::3], strict=True):
            assert first["last_seq"] == 1 and dup["duplicate"] is True
            assert bad["__error__"]["code"] == "validation_error"
        assert len(link.batches) == 4
        assert mux.call_counts()["requests"] == 20 + 20 + 60

    asyncio.run(scenario())


def test_a_failed_call_fails_its_requests_only():
    class Flaky(SlowLink):
        fail = True

        async def batch(self, requests, replica):
            if self.fail:
                self.fail = False
                await asyncio.sleep(self.delay_s)
                raise ConnectionError("actor died")
            return await super().batch(requests, replica)

    async def scenario():
        link = Flaky(MatchHost(SETTINGS, 10))
        mux = EventMux(5.0, "r1")
        first = asyncio.ensure_future(mux.call(link, ["summary", "m0"]))
        await asyncio.sleep(0)
        later = asyncio.ensure_future(_call(mux, link, ["create", "m1", None, None, {"task_id": "task_1"}, {}]))
        try:
            await first
            raise AssertionError("the failed call must raise")
        except ConnectionError:
            pass
        assert (await later)["match_id"] == "m1"

    asyncio.run(scenario())


def test_a_full_match_costs_one_host_call_per_move_and_observations_come_with_events():
    """Three seats on one replica: each move is one call; ``obs`` after ``your_turn`` needs none."""

    async def scenario():
        host = MatchHost(SETTINGS, 10)
        link = SlowLink(host, 0.0)
        mux = EventMux(5.0, "r1")
        conns = {r: f"c-{r[0]}" for r in ROLES}
        out = await _call(mux, link, ["create", "m", "fraudster", conns["fraudster"], {"task_id": "task_1",
                                                                                        "seed": 9}, {}])
        cursors = {"fraudster": out["cursor"]}
        obs = {"fraudster": out["observation"]}
        for r in ("investigator", "auditor"):
            joined = await _call(mux, link, ["join", "m", r, conns[r], out["seat_tokens"][r], False])
            cursors[r], obs[r] = joined["cursor"], joined["observation"]
        bots = {r: make_bot("scripted", r, bot_seed("task_1", 9, r)) for r in ROLES}
        moves = 0
        served_from_events = 0

        async def seat(role: str) -> dict:
            nonlocal moves, served_from_events
            o, cursor = obs[role], cursors[role]
            while not o["done"]:
                if my_turn(o):
                    o = await _call(mux, link, ["step", "m", role, conns[role], bots[role].act(o), None])
                    moves += 1
                    continue
                got = await mux.next_events(link, ("m", role, conns[role]), cursor)
                cursor = got["cursor"]
                if any(e["kind"] in ("your_turn", "match_done") for e in got["events"]):
                    before = mux.call_counts().get("obs_from_events", 0)
                    o = await _call(mux, link, ["observe", "m", role, conns[role]])
                    served_from_events += mux.call_counts().get("obs_from_events", 0) - before
                    assert o == host.matches["m"].observation(role)  # the copy is the current observation
            return o

        await asyncio.wait_for(asyncio.gather(*(seat(r) for r in ROLES)), 60)
        counts = mux.call_counts()
        assert host.matches["m"].env.done and served_from_events >= 3
        assert counts["requests"] == 3 + moves  # create, 2 joins, the moves: no obs reached the host
        assert counts["batches"] <= counts["requests"]
        assert counts.get("polls", 0) <= 4  # the subscriptions; every event rode along with a move

    asyncio.run(scenario())



class JitterLink(SlowLink):
    """Answers after a random delay on the way in and out, so polls and batches overtake each other."""

    def __init__(self, host: MatchHost, key: str, rng) -> None:
        super().__init__(host, 0.0)
        self.key = key
        self.rng = rng

    async def batch(self, requests, replica):
        await asyncio.sleep(self.rng.random() * 0.01)
        out = await self.host.handle_batch(requests, replica)
        await asyncio.sleep(self.rng.random() * 0.01)
        return out

    async def poll(self, subs, wait_s, replica):
        await asyncio.sleep(self.rng.random() * 0.01)
        out = await self.host.poll(subs, wait_s, replica)
        await asyncio.sleep(self.rng.random() * 0.01)
        return out


def test_no_event_waits_for_a_poll_timeout_when_answers_overtake_each_other():
    """20 matches on 2 packed hosts behind jittery links: every event reaches its seat without waiting out a
    long-poll (they last 60 s here; the whole run is bounded to 30 s), and the record equals the referee's."""
    import random

    from fraudarena.agents import play_match

    async def match(mux, link, host, mid, seed):
        conns = {r: f"{mid}-{r}" for r in ROLES}
        out = await _call(mux, link, ["create", mid, "fraudster", conns["fraudster"],
                                      {"task_id": "task_1", "seed": seed}, {}])
        cursors, obs = {"fraudster": out["cursor"]}, {"fraudster": out["observation"]}
        for r in ("investigator", "auditor"):
            joined = await _call(mux, link, ["join", mid, r, conns[r], out["seat_tokens"][r], False])
            cursors[r], obs[r] = joined["cursor"], joined["observation"]
        bots = {r: make_bot("scripted", r, bot_seed("task_1", seed, r)) for r in ROLES}

        async def seat(role):
            o, cursor = obs[role], cursors[role]
            while not o["done"]:
                if my_turn(o):
                    o = await _call(mux, link, ["step", mid, role, conns[role], bots[role].act(o), None])
                    continue
                got = await mux.next_events(link, (mid, role, conns[role]), cursor)
                cursor = got["cursor"]
                if any(e["kind"] in ("your_turn", "match_done", "turn_timeout") for e in got["events"]):
                    o = await _call(mux, link, ["observe", mid, role, conns[role]])

        await asyncio.gather(*(seat(r) for r in ROLES))
        return host.matches[mid].record()

    async def scenario():
        rng = random.Random(7)
        settings = SETTINGS.model_copy(update={"long_poll_s": 60.0})
        hosts = [MatchHost(settings, 10) for _ in range(2)]
        links = [JitterLink(h, f"h{i}", rng) for i, h in enumerate(hosts)]
        mux = EventMux(60.0, "r1")
        records = await asyncio.wait_for(asyncio.gather(*(
            match(mux, links[i % 2], hosts[i % 2], f"m{i}", i) for i in range(20))), 30)
        assert all(rec == play_match("task_1", i) for i, rec in enumerate(records))
        counts = mux.call_counts()
        assert counts["batches"] + counts["polls"] < 20 * 10  # coalesced: far fewer calls than requests
        assert counts["requests"] > 20 * 25

    asyncio.run(scenario())
