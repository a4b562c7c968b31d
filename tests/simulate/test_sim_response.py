"""The customer response model: calibrated to the evidence, monotone in harshness, deterministic."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.twin.customers import LatentType, TypeMix
from overdue.twin.response import (
    CHANNEL_INDEX,
    TONE_INDEX,
    ContactInput,
    parameter_rows,
    pays_on_due_date,
    respond,
    uniforms,
)

N = 200_000


def _contacts(n: int, channel: str = "voice_agent", tone: str = "friendly", hour: int = 11,
              recent: int = 0, dpd: int = 5, kind: LatentType = LatentType.FORGETFUL,
              third: bool = False) -> ContactInput:  # fmt: skip
    return ContactInput(
        key=np.arange(n, dtype=np.int64),
        channel=np.full(n, CHANNEL_INDEX[channel], dtype=np.int64),
        tone=np.full(n, TONE_INDEX[tone], dtype=np.int64),
        local_hour=np.full(n, hour, dtype=np.int64),
        recent_contacts=np.full(n, recent, dtype=np.int64),
        dpd=np.full(n, dpd, dtype=np.int64),
        latent_type=np.full(n, int(kind), dtype=np.int64),
        third_party=np.full(n, third, dtype=np.bool_),
    )


def test_pre_due_sms_lifts_on_time_repayment_as_in_the_field_trial() -> None:
    """Cadena & Schoar: an SMS before the due date, +7–9 % on-time repayment (relative)."""
    rng = np.random.default_rng(3)
    kinds = rng.choice(len(LatentType), size=N, p=TypeMix().shares()).astype(np.int64)
    keys = np.arange(N, dtype=np.int64)
    base = pays_on_due_date(kinds, np.zeros(N, dtype=np.bool_), 1, 100, keys).mean()
    delivered = uniforms(1, 99, keys, 0) < 0.95  # the SMS channel's reach
    reminded = pays_on_due_date(kinds, delivered, 1, 100, keys).mean()
    lift = reminded / base - 1
    assert 0.06 <= lift <= 0.10, lift


def test_types_answer_as_documented() -> None:
    paid = {
        kind: respond(_contacts(N, kind=kind), seed=1, day=10).pays.mean() for kind in LatentType
    }
    assert paid[LatentType.FRAUD] == 0.0
    assert paid[LatentType.FORGETFUL] > 3 * paid[LatentType.UNWILLING]
    part = respond(_contacts(N, kind=LatentType.SHORT_OF_MONEY), seed=1, day=10)
    assert 0 < part.pay_share[part.pays].mean() < 1.0


def test_ai_voice_recovers_less_than_human_callers() -> None:
    robot = respond(_contacts(N, channel="voice_robot"), seed=2, day=5).pays.mean()
    agent = respond(_contacts(N, channel="voice_agent"), seed=2, day=5).pays.mean()
    assert robot < agent


def test_harshness_raises_complaints_and_attrition() -> None:
    def rates(**kw: object) -> tuple[float, float]:
        out = respond(_contacts(N, channel="voice_agent", **kw), seed=4, day=9)  # type: ignore[arg-type]
        return float(out.complaint.mean()), float(out.attrition.mean())

    kind = rates()
    for harsh in (rates(tone="firm"), rates(recent=10), rates(hour=22), rates(third=True)):
        assert harsh[0] > kind[0] and harsh[1] > kind[1]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**40),
    day=st.integers(700_000, 800_000),
    keys=st.lists(st.integers(0, 2**50), min_size=1, max_size=50),
)
def test_draws_depend_only_on_seed_day_and_key(seed: int, day: int, keys: list[int]) -> None:
    arr = np.array(keys, dtype=np.int64)
    whole = uniforms(seed, day, arr, 3)
    one_by_one = np.array([uniforms(seed, day, arr[i : i + 1], 3)[0] for i in range(arr.size)])
    assert np.array_equal(whole, one_by_one)
    assert np.all((whole >= 0) & (whole < 1))
    assert not np.array_equal(whole, uniforms(seed, day + 1, arr, 3)) or arr.size == 1


@settings(max_examples=30, deadline=None)
@given(
    channel=st.sampled_from(sorted(CHANNEL_INDEX)),
    tone=st.sampled_from(sorted(TONE_INDEX)),
    hour=st.integers(0, 23),
    recent=st.integers(0, 40),
    dpd=st.integers(0, 400),
    kind=st.sampled_from(list(LatentType)),
    third=st.booleans(),
)
def test_outcomes_are_consistent(channel: str, tone: str, hour: int, recent: int, dpd: int,
                                 kind: LatentType, third: bool) -> None:  # fmt: skip
    out = respond(_contacts(500, channel, tone, hour, recent, dpd, kind, third), seed=9, day=3)
    assert not np.any(out.right_party & ~out.connected)
    assert not np.any(out.conversation & ~out.right_party)
    assert not np.any(out.promise & ~out.conversation)
    assert not np.any(out.pays & ~out.right_party)
    assert not np.any(out.complaint & ~out.connected)
    assert np.all((out.pay_share >= 0) & (out.pay_share <= 1))
    assert np.all((out.delay_days >= 0) & (out.delay_days <= 10))
    if third:
        assert not out.right_party.any()
    if kind == LatentType.FRAUD:
        assert not out.pays.any()


def test_every_parameter_has_a_source() -> None:
    rows = parameter_rows()
    assert len(rows) > 100
    assert all(r["source"] for r in rows)
    assert any("Cadena" in r["source"] for r in rows) and any("Choi" in r["source"] for r in rows)
