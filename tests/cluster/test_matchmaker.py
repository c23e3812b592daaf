"""The matchmaking pool (docs/protocol.md#matchmaking-queue) by hand-driven time, and its asyncio driver
with a fake ``create``."""

from __future__ import annotations

import asyncio

import pytest

from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.matchmaking import Matchmaker, QueuePool
from fraudarena.served.settings import ArenaSettings

ROLES = ("fraudster", "investigator", "auditor")


def test_full_group_forms_at_once_oldest_first():
    pool = QueuePool(timeout_s=30)
    f1 = pool.enter("task_1", "fraudster", 0.0)
    f2 = pool.enter("task_1", "fraudster", 1.0)
    inv = pool.enter("task_1", "investigator", 2.0)
    assert pool.take_groups(3.0) == []
    aud = pool.enter("task_1", "auditor", 4.0)
    [group] = pool.take_groups(4.0)
    assert group.task_id == "task_1" and group.bots == ()
    assert group.seats == {"fraudster": f1.ticket_id, "investigator": inv.ticket_id, "auditor": aud.ticket_id}
    assert pool.position(f2.ticket_id) == 1 and pool.waiting() == 1
    assert pool.take_groups(5.0) == []


def test_positions_count_per_task_and_role():
    pool = QueuePool(timeout_s=30)
    a = pool.enter("task_1", "fraudster", 0.0)
    b = pool.enter("task_1", "fraudster", 1.0)
    c = pool.enter("task_1", "fraudster", 2.0)
    other = pool.enter("task_2", "fraudster", 2.5)
    inv = pool.enter("task_1", "investigator", 3.0)
    assert [pool.position(t.ticket_id) for t in (a, b, c, other, inv)] == [1, 2, 3, 1, 1]
    assert pool.status(b.ticket_id, 4.0) == {"task_id": "task_1", "role": "fraudster", "position": 2,
                                             "waited_s": 3.0}
    assert pool.leave(a.ticket_id) and not pool.leave(a.ticket_id)
    assert pool.position(b.ticket_id) == 1 and pool.position(c.ticket_id) == 2
    assert pool.status(a.ticket_id, 4.0) is None


def test_pools_are_per_task():
    pool = QueuePool(timeout_s=30)
    pool.enter("task_1", "fraudster", 0.0)
    pool.enter("task_2", "investigator", 0.0)
    pool.enter("task_3", "auditor", 0.0)
    assert pool.take_groups(1.0) == []
    assert pool.waiting() == 3 and pool.waiting("task_2") == 1
    pool.enter("task_2", "fraudster", 1.0)
    pool.enter("task_2", "auditor", 1.0)
    [group] = pool.take_groups(1.0)  # task_2 now has all three roles
    assert group.task_id == "task_2" and set(group.seats) == set(ROLES)
    assert pool.waiting() == 2


def test_timeout_fills_empty_seats_with_house_bots():
    pool = QueuePool(timeout_s=30)
    f = pool.enter("task_1", "fraudster", 0.0)
    a = pool.enter("task_1", "auditor", 10.0)
    assert pool.next_due() == 30.0
    assert pool.take_groups(29.9) == []
    [group] = pool.take_groups(30.0)
    assert group.seats == {"fraudster": f.ticket_id, "auditor": a.ticket_id}
    assert group.bots == ("investigator",) and group.house_bots() == {"investigator": "scripted"}
    assert pool.next_due() is None and pool.waiting() == 0


def test_timeout_seats_every_overdue_ticket():
    pool = QueuePool(timeout_s=5)
    one = pool.enter("task_1", "fraudster", 0.0)
    two = pool.enter("task_1", "fraudster", 1.0)
    three = pool.enter("task_1", "fraudster", 20.0)
    groups = pool.take_groups(10.0)
    assert [g.seats["fraudster"] for g in groups] == [one.ticket_id, two.ticket_id]
    assert all(g.bots == ("investigator", "auditor") for g in groups)
    assert pool.position(three.ticket_id) == 1 and pool.next_due() == 25.0


def test_seated_results_are_collected_once_and_left_tickets_skipped():
    pool = QueuePool(timeout_s=30)
    tickets = {r: pool.enter("task_1", r, 0.0) for r in ROLES}
    [group] = pool.take_groups(0.0)
    assert pool.position(tickets["auditor"].ticket_id) == 1  # forming: next to be seated
    assert pool.collect(tickets["fraudster"].ticket_id) is None
    pool.leave(tickets["auditor"].ticket_id)  # left while its match was being created
    done = pool.seated(group, "m1", {"fraudster": "tf", "investigator": "ti", "auditor": "ta"})
    assert set(done) == {tickets["fraudster"].ticket_id, tickets["investigator"].ticket_id}
    out = pool.collect(tickets["fraudster"].ticket_id)
    assert out == {"status": "seated", "match_id": "m1", "token": "tf", "task_id": "task_1", "role": "fraudster"}
    assert pool.collect(tickets["fraudster"].ticket_id) is None
    assert tickets["fraudster"].ticket_id not in pool.tickets


def test_disconnected_tickets_leave_and_stale_ones_expire():
    pool = QueuePool(timeout_s=30, stale_s=10)
    gone = pool.enter("task_1", "fraudster", 0.0)
    polled = pool.enter("task_1", "investigator", 0.0)
    pool.touch(polled.ticket_id, 5.0, polls=1)  # a long-poll in flight keeps it alive
    assert pool.expire(11.0) == [gone.ticket_id]
    assert pool.waiting() == 1 and pool.position(polled.ticket_id) == 1
    pool.enter("task_1", "auditor", 12.0)
    pool.enter("task_1", "fraudster", 12.0)
    [group] = pool.take_groups(12.0)
    assert group.seats["investigator"] == polled.ticket_id


def test_failed_creation_reaches_every_ticket():
    pool = QueuePool(timeout_s=1)
    t = pool.enter("task_1", "fraudster", 0.0)
    [group] = pool.take_groups(1.0)
    pool.failed(group, {"code": "capacity", "message": "full"})
    assert pool.collect(t.ticket_id) == {"status": "failed", "error": {"code": "capacity", "message": "full"}}


def test_unknown_role_is_a_validation_error():
    with pytest.raises(ProtocolError) as e:
        QueuePool(timeout_s=1).enter("task_1", "referee", 0.0)
    assert e.value.code == "validation_error"


# ----- the asyncio driver --------------------------------------------------------------------------------
class FakeCreate:
    def __init__(self, fail: ProtocolError | None = None) -> None:
        self.calls: list[tuple[dict, dict]] = []
        self.fail = fail

    async def __call__(self, params, house_bots):
        self.calls.append((params, house_bots))
        if self.fail is not None:
            raise self.fail
        n = len(self.calls)
        return {"match_id": f"m{n}", "seat_tokens": {r: f"tok-{r}-{n}" for r in ROLES if r not in house_bots}}


def _mm(create, **kw) -> Matchmaker:
    settings = ArenaSettings(queue_timeout_s=kw.get("timeout", 30.0), queue_notify_s=kw.get("notify", 0.05))
    return Matchmaker(settings, create)


def test_driver_seats_three_waiters_into_one_match_with_a_drawn_seed():
    async def run():
        create = FakeCreate()
        mm = _mm(create)
        entered = [await mm.enter("task_1", r) for r in ROLES]
        assert [e["position"] for e in entered] == [1, 1, 1]
        results = await asyncio.gather(*(mm.wait(e["ticket"], 5.0) for e in entered))
        return create, results, mm

    create, results, mm = asyncio.run(run())
    assert [r["status"] for r in results] == ["seated"] * 3
    assert {r["match_id"] for r in results} == {"m1"}
    assert [r["token"] for r in results] == [f"tok-{r}-1" for r in ROLES]
    [(params, bots)] = create.calls
    assert params["task_id"] == "task_1" and bots == {} and 0 <= params["seed"] < 2**63
    assert mm.stats()["tickets"] == 0 and mm.stats()["matches_created"] == 1


def test_driver_reports_progress_then_fills_with_bots_after_the_timeout():
    async def run():
        create = FakeCreate()
        mm = _mm(create, timeout=0.3)
        e = await mm.enter("task_2", "investigator")
        first = await mm.wait(e["ticket"], 0.05)
        final = await mm.wait(e["ticket"], 5.0)
        return create, first, final

    create, first, final = asyncio.run(run())
    assert first["status"] == "queued" and first["position"] == 1 and first["waited_s"] >= 0.05
    assert final["status"] == "seated" and final["role"] == "investigator"
    assert create.calls[0][1] == {"fraudster": "scripted", "auditor": "scripted"}


def test_driver_leave_wakes_the_waiter_and_capacity_fails_the_group():
    async def run():
        mm = _mm(FakeCreate())
        e = await mm.enter("task_1", "auditor")
        waiter = asyncio.create_task(mm.wait(e["ticket"], 5.0))
        await asyncio.sleep(0.05)
        assert mm.leave(e["ticket"])
        left = await asyncio.wait_for(waiter, 2.0)
        full = _mm(FakeCreate(ProtocolError(ErrorCode.CAPACITY, "full", retry_after_ms=5000)), timeout=0.05)
        e2 = await full.enter("task_1", "auditor")
        failed = await full.wait(e2["ticket"], 5.0)
        return left, failed, mm

    left, failed, mm = asyncio.run(run())
    assert left["status"] == "failed" and mm.stats()["waiting"] == 0
    assert failed == {"status": "failed", "error": {"code": "capacity", "message": "full", "retry_after_ms": 5000}}


# ----- the Ray actor ---------------------------------------------------------------------------------------
@pytest.mark.ray
def test_matchmaker_actor_is_named_replaced_on_redeploy_and_killed_with_the_instance(ray_cluster, tmp_path):
    import ray

    from fraudarena.cluster import naming

    settings = ArenaSettings(instance="t-mm", archive_path=str(tmp_path / "a.sqlite3"), queue_timeout_s=0.2,
                             queue_notify_s=0.1)

    async def run(s):
        handle = await naming.ensure_matchmaker(s)
        entered = await handle.enter.remote("task_1", "fraudster")
        # No directory runs for this instance: the timed-out group cannot be created and the ticket fails.
        return handle, entered, await handle.wait.remote(entered["ticket"], 10.0)

    try:
        handle, entered, out = asyncio.run(run(settings))
        assert entered["position"] == 1 and entered["role"] == "fraudster"
        assert out["status"] == "failed" and out["error"]["code"] == "reset_error"
        assert ray.get(handle.stats.remote(), timeout=30)["tickets"] == 0
        changed = settings.model_copy(update={"queue_timeout_s": 5.0})
        replaced = asyncio.run(naming.ensure_matchmaker(changed))
        assert ray.get(replaced.fingerprint.remote(), timeout=30) == changed.model_dump_json()
        assert naming.matchmaker_handle(settings, create=False) is not None
    finally:
        naming.kill_instance(settings)
    assert naming.matchmaker_handle(settings, create=False) is None
