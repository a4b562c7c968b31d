"""The optimiser's allocation: shrinkage, the evidence rule, complaints may not rise.

Differential: HiGHS (``allocate``) against a brute-force enumeration of every choice."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.strategy import optimise
from overdue.strategy.optimise import NONE, allocate, shrink
from overdue.strategy.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"


def _arm(effect: float, half: float, cost: float = 10.0, complaints: float = 0.0,
         sms: float = 0.1) -> dict[str, Any]:  # fmt: skip
    return {
        "account_days": 1000,
        "effect_vs_holdout_fen": {"value": effect, "low": effect - half, "high": effect + half},
        "cost_per_account_day_fen": cost,
        "complaints_per_account_day": complaints,
        "contacts_per_account_day": {"sms": sms},
    }


def _with_means(arm: dict[str, Any], mean: float, half: float) -> dict[str, Any]:
    interval = {"value": mean, "low": mean - half, "high": mean + half}
    return {**arm, "collected_per_account_day_fen": interval}


def test_pessimism_keeps_the_champion_unless_the_log_is_confident() -> None:
    holdout = _with_means(_arm(0.0, 100.0, cost=0.0, sms=0.0), 1000.0, 100.0)
    champion = _with_means(_arm(3000.0, 400.0), 4000.0, 300.0)
    noisy = _with_means(_arm(5000.0, 3000.0, cost=1.0), 6000.0, 3000.0)  # better, not surely
    sure = _with_means(_arm(5000.0, 500.0, cost=1.0), 6000.0, 400.0)  # surely better
    arms = {"holdout": holdout, "champion": champion, "noisy": noisy}
    effects = _effects({"a": arms})
    shrink(effects)
    assert allocate(effects, {}, {"a": 100.0}, evidence=False)["chosen"] == {"a": "noisy"}
    pessimistic = allocate(effects, {}, {"a": 100.0}, evidence=False, pessimistic=True)
    assert pessimistic["chosen"] == {"a": "champion"}
    effects = _effects({"a": {**arms, "sure": sure}})
    shrink(effects)
    chosen = allocate(effects, {}, {"a": 100.0}, evidence=False, pessimistic=True)["chosen"]
    assert chosen == {"a": "sure"}


def _effects(segments: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "days": 10,
        "segments": {s: {"per_day": 100.0, "arms": arms} for s, arms in segments.items()},
    }


def test_shrinkage_moves_noisy_effects_most() -> None:
    effects = _effects(
        {
            "a": {"champion": _arm(1000.0, 50.0), "wild": _arm(1000.0, 1500.0)},
            "b": {"champion": _arm(-800.0, 60.0), "noise": _arm(100.0, 1000.0)},
        }
    )
    assert 0 < shrink(effects) < 1
    a, b = effects["segments"]["a"]["arms"], effects["segments"]["b"]["arms"]
    assert 990 < a["champion"]["effect_shrunk_fen"] <= 1000
    assert 0 <= a["wild"]["effect_shrunk_fen"] < 500
    assert -800 <= b["champion"]["effect_shrunk_fen"] < -790
    assert b["noise"]["effect_shrunk_fen"] == 0.0  # within one standard error of zero


def test_evidence_rule_prefers_no_contact_when_the_interval_includes_zero() -> None:
    effects = _effects({"a": {"champion": _arm(500.0, 600.0)}})
    assert allocate(effects, {}, {"a": 100.0}, evidence=True)["chosen"] == {"a": NONE}
    assert allocate(effects, {}, {"a": 100.0}, evidence=False)["chosen"] == {"a": "champion"}


def test_complaints_may_not_rise() -> None:
    effects = _effects(
        {
            "a": {
                "champion": _arm(1000.0, 100.0, complaints=0.001),
                "harsh": _arm(5000.0, 100.0, complaints=0.004),
            }
        }
    )
    capped = allocate(effects, {}, {"a": 100.0}, complaint_price_fen=0.0)
    assert capped["chosen"] == {"a": "champion"}
    free = allocate(effects, {}, {"a": 100.0}, complaint_price_fen=0.0, complaints_cap_arm=None)
    assert free["chosen"] == {"a": "harsh"}


def _brute_force(
    effects: dict[str, Any], capacity: float, population: dict[str, float], evidence: bool
) -> float:
    """The best objective by enumerating every choice (same rules, plain loops)."""
    segments = sorted(effects["segments"])
    options = []
    cap_complaints = 0.0
    for seg in segments:
        arms = effects["segments"][seg]["arms"]
        n = population[seg]
        if "champion" in arms:
            cap_complaints += n * arms["champion"]["complaints_per_account_day"]
        opts = [(0.0, 0.0, 0.0)]
        for row in arms.values():
            effect = row["effect_vs_holdout_fen"]
            cost, comp = row["cost_per_account_day_fen"], row["complaints_per_account_day"]
            if evidence and effect["low"] <= 0 and (cost > 0 or comp > 0):
                continue
            net = row["effect_shrunk_fen"] - cost - optimise.COMPLAINT_PRICE_FEN * comp
            sms = n * row["contacts_per_account_day"]["sms"]
            opts.append((n * net, n * comp, sms))
        options.append(opts)
    best = float("-inf")
    for combo in itertools.product(*options):
        if sum(c[1] for c in combo) > cap_complaints + 1e-9:
            continue
        if sum(c[2] for c in combo) > capacity + 1e-9:
            continue
        best = max(best, sum(c[0] for c in combo))
    return best


_ARM = st.builds(
    _arm,
    effect=st.floats(-3000, 6000),
    half=st.floats(1, 4000),
    cost=st.floats(0, 500),
    complaints=st.sampled_from([0.0, 0.0005, 0.001, 0.003]),
    sms=st.floats(0, 2),
)


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["s1", "s2", "s3", "s4"]),
        st.dictionaries(st.sampled_from(["champion", "b", "c"]), _ARM, min_size=1, max_size=3),
        min_size=1,
        max_size=4,
    ),
    st.floats(10, 600),
    st.booleans(),
)
def test_highs_matches_brute_force(
    segments: dict[str, dict[str, dict[str, Any]]], capacity: float, evidence: bool
) -> None:
    effects = _effects(segments)
    shrink(effects)
    population = {s: 100.0 for s in segments}
    result = allocate(effects, {"sms": int(capacity)}, population, evidence=evidence)
    assert set(result["chosen"]) == set(segments), "one choice per segment"
    expected = _brute_force(effects, float(int(capacity)), population, evidence)
    assert abs(result["objective_fen"] - expected) <= 1e-6 * max(1.0, abs(expected))
    assert result["complaints_per_day"]["chosen"] <= result["complaints_per_day"]["cap"] + 1e-9


def test_exploration_and_optimised_specs_load() -> None:
    explore = load_spec(EXAMPLES / "explore.yaml")
    assert explore.experiment.holdout_share == 0.20
    assert {c.name for c in explore.experiment.challengers} == {
        "messages_only", "robot", "later_call", "fewer_steps", "friendly"
    }  # fmt: skip
    optimised = load_spec(EXAMPLES / "optimised.yaml")
    default = load_spec("default")
    assert optimised.experiment.challengers == []
    assert optimised.experiment.salt == default.experiment.salt
    assert optimised.experiment.holdout_share == default.experiment.holdout_share
    # the default's segments (mid split by balance as in explore.yaml), every path defined
    names = [s.name for s in optimised.segments]
    assert names == [s.name for s in explore.segments]
    assert set(names) - {"mid_high_balance"} == {s.name for s in default.segments}
    assert all(s.path is None or s.path in optimised.paths for s in optimised.segments)


def test_paired_comparison_of_two_runs_on_the_same_customers(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from overdue.strategy.optimise import paired_comparison

    ids = [f"C{i:03d}" for i in range(200)]
    for name, contacts, complaints in (("a", 1, 0), ("b", 2, 1)):
        (tmp_path / name).mkdir()
        table = pa.table(
            {
                "customer_id": ids,
                "recovered_fen": [1000 + 10 * (i % 7) for i in range(200)],
                "contacts": [contacts] * 200,
                "complaints": [complaints if i % 50 == 0 else 0 for i in range(200)],
            }
        )
        pq.write_table(table, tmp_path / name / "customers.parquet")
    result = paired_comparison(tmp_path / "a", tmp_path / "b")
    per_contact = result["recovered_per_contact_fen"]
    assert per_contact["low"] <= per_contact["value"] <= per_contact["high"]
    assert per_contact["value"] > 0 and per_contact["low"] > 0  # same money, half the contacts
    assert result["contacts"]["value"] == -200
    assert result["complaints_per_1000_customers"]["value"] == -20.0
