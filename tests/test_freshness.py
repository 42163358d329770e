"""A hop's freshness: within twice its schedule of its last success, or stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sluice.core.freshness import freshness

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_a_scheduled_hop_is_stale_past_twice_its_interval() -> None:
    just_in = freshness(30, True, NOW - timedelta(minutes=59), NOW, NOW)
    just_out = freshness(30, True, NOW - timedelta(minutes=61), NOW, NOW)
    assert (just_in.stale, just_in.target_seconds) == (False, 3600)
    assert (just_out.stale, just_out.target_seconds) == (True, 3600)


def test_a_hop_that_never_ran_is_not_stale_yet_but_one_that_never_succeeded_is() -> None:
    assert freshness(30, True, None, None, NOW).stale is False
    assert freshness(30, True, None, NOW - timedelta(minutes=1), NOW).stale is True


def test_unscheduled_or_paused_hops_have_no_target() -> None:
    old = NOW - timedelta(days=30)
    assert freshness(None, True, old, old, NOW).stale is None
    assert freshness(0, True, old, old, NOW).stale is None
    paused = freshness(30, False, old, old, NOW)
    assert (paused.stale, paused.target) == (None, None)
