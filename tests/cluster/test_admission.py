"""Admission by memory (served/admission.py): the total cap on unjoined anonymous matches and the free-memory floor."""

from __future__ import annotations

import pytest

from fraudarena.served.admission import (
    MIB,
    check_admission,
    is_unjoined,
    match_memory_bytes,
    read_meminfo,
    unjoined_cap,
)
from fraudarena.served.errors import ProtocolError
from fraudarena.served.settings import ArenaSettings

GIB = 1 << 30


def test_meminfo_of_this_node_is_read(tmp_path) -> None:
    info = read_meminfo()
    assert info is not None and info[0] >= info[1] > 0
    (tmp_path / "meminfo").write_text("MemTotal:  2048 kB\nMemFree: 1 kB\n")
    assert read_meminfo(tmp_path / "meminfo") is None  # no MemAvailable: no figure, not a crash
    assert read_meminfo(tmp_path / "missing") is None


def test_cap_follows_memory_and_packing() -> None:
    one = ArenaSettings(matches_per_actor=1)
    packed = ArenaSettings(matches_per_actor=100)
    assert match_memory_bytes(one) == 64 * MIB and match_memory_bytes(packed) == 2 * MIB
    assert unjoined_cap(one, (24 * GIB, 20 * GIB)) == 96  # a quarter of 24 GiB over 64 MiB
    assert unjoined_cap(packed, (24 * GIB, 20 * GIB)) == 3072
    assert unjoined_cap(ArenaSettings(max_unjoined_matches=7), (24 * GIB, 20 * GIB)) == 7
    assert unjoined_cap(ArenaSettings(match_memory_mb=512, unjoined_memory_fraction=0.5), (4 * GIB, GIB)) == 4
    assert unjoined_cap(one, None) is None


def test_anonymous_creations_stop_at_the_cap_and_seated_ones_do_not() -> None:
    settings = ArenaSettings(max_unjoined_matches=3)
    roomy = (24 * GIB, 20 * GIB)
    check_admission(settings, anonymous=True, unjoined_live=2, meminfo=roomy)
    with pytest.raises(ProtocolError) as exc:
        check_admission(settings, anonymous=True, unjoined_live=3, meminfo=roomy)
    assert exc.value.code == "capacity" and exc.value.retry_after_ms
    check_admission(settings, anonymous=False, unjoined_live=3, meminfo=roomy)


def test_no_creation_below_the_free_memory_floor() -> None:
    settings = ArenaSettings(min_free_memory_mb=512)
    with pytest.raises(ProtocolError) as exc:
        check_admission(settings, anonymous=False, unjoined_live=0, meminfo=(24 * GIB, 100 * MIB))
    assert exc.value.code == "capacity" and "low on memory" in exc.value.message
    check_admission(ArenaSettings(min_free_memory_mb=0), anonymous=False, unjoined_live=0,
                    meminfo=(24 * GIB, 100 * MIB))


def test_unjoined_means_no_client_ever_held_a_seat() -> None:
    assert is_unjoined({"fraudster": "empty", "investigator": "empty", "auditor": "bot"})
    assert not is_unjoined({"fraudster": "connected", "investigator": "empty", "auditor": "bot"})
    assert not is_unjoined({"fraudster": "disconnected", "investigator": "empty", "auditor": "bot"})
