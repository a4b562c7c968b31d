"""Threshold alerts: the TOML config, its errors, and alerts that fire exactly past the threshold.

Values come from the hand-made history (``test_monitoring_support.hand_rows``), worked by hand:
roll M0 -> M1 by balance is 2000 / 5000 = 0.4 at 02-28 and 2000 / 3500 at 03-31; the delinquent
rate by count is 3/5, 4/6, 4/5; one account is charged off in February.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from test_monitoring_support import D1, D2, hand_history
from test_monitoring_vintage import write_history

from overdue.portfolio.alerts import (
    MEASURES,
    AlertConfigError,
    evaluate,
    load_config,
    parse_config,
)
from overdue.portfolio.monitoring import Monitoring, monitor

REPO = Path(__file__).resolve().parents[2]
L1, L2 = D1.isoformat(), D2.isoformat()


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Monitoring:
    folder = tmp_path_factory.mktemp("hand")
    hand_history(folder)
    return monitor(folder)


def fired(measured: Monitoring, **rule: object) -> list[tuple[str, object]]:
    config = parse_config({"rule": [rule]}, "test.toml")
    return [(a.at, a.value) for a in evaluate(config, measured)]


def test_fires_only_strictly_above_with_greater_than(measured: Monitoring) -> None:
    roll = {"measure": "roll_rate", "from": "M0", "to": "M1", "basis": "balance"}
    assert fired(measured, **roll, op=">", threshold=0.4) == [(L2, pytest.approx(2000 / 3500))]
    assert [at for at, _ in fired(measured, **roll, op=">=", threshold=0.4)] == [L1, L2]
    assert [at for at, _ in fired(measured, **roll, op=">", threshold=0.4 - 1e-12)] == [L1, L2]
    assert fired(measured, **roll, op=">", threshold=2000 / 3500) == []
    assert [at for at, _ in fired(measured, **roll, op="<", threshold=0.5)] == [L1]
    assert [at for at, _ in fired(measured, **roll, op="<=", threshold=0.4)] == [L1]


def test_each_date_is_judged_on_its_own_value(measured: Monitoring) -> None:
    rate = {"measure": "delinquent_rate", "basis": "count", "op": ">"}
    got = fired(measured, **rate, threshold=4 / 6)  # 3/5, 4/6, 4/5
    assert got == [(L2, pytest.approx(0.8))]
    counts = fired(measured, measure="charge_offs", op=">", threshold=0)
    assert counts == [(L1, 1)]  # the first date has no period, so no value
    amount = fired(measured, measure="charge_offs", basis="balance", op=">=", threshold=800)
    assert amount == [(L1, 800)]


def test_undefined_values_raise_nothing(measured: Monitoring) -> None:
    # nobody is in M2 at 01-31, so the cure rate of M2 at 02-28 is undefined
    got = fired(measured, measure="cure_rate", **{"from": "M2"}, op="<", threshold=2)
    assert got == [(L2, 1.0)]


def test_bucket_share_and_or_worse(measured: Monitoring) -> None:
    rule = {"measure": "bucket_share", "bucket": "M5", "op": ">=", "threshold": 0.5}
    assert fired(measured, **rule) == []
    # M5 or worse by count: 1/5, 2/6, 2/6
    got = fired(measured, **rule | {"or_worse": True, "threshold": 1 / 3})
    assert [at for at, _ in got] == [L1, L2]
    us = fired(measured, measure="bucket_share", scheme="us", bucket="180+", op=">", threshold=0)
    assert us == [(L2, pytest.approx(1 / 6))]


def test_alerts_are_ordered_by_date_then_rule(measured: Monitoring) -> None:
    config = parse_config(
        {
            "rule": [
                {"name": "b", "measure": "accounts", "op": ">", "threshold": 5},
                {"name": "a", "measure": "delinquent_rate", "op": ">", "threshold": 0.5},
            ]
        },
        "x.toml",
    )
    got = [(a.at, a.rule) for a in evaluate(config, measured)]
    assert got == [
        ("2025-01-31", "a"),
        (L1, "b"),
        (L1, "a"),
        (L2, "b"),
        (L2, "a"),
    ]


def test_the_example_config_is_valid(measured: Monitoring) -> None:
    path = REPO / "examples" / "alerts" / "default.toml"
    config = load_config(path)
    raw = tomllib.loads(path.read_text())
    assert len(config.rules) == len(raw["rule"]) >= 5
    assert {r.measure for r in config.rules} <= set(MEASURES)
    evaluate(config, measured)  # every rule evaluates


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"measure": "rol_rate", "op": ">", "threshold": 1}, "rule[1].measure = 'rol_rate': must be one of roll_rate"),
        ({"measure": "roll_rate", "from": "M1", "to": "M9", "op": ">", "threshold": 1}, "rule[1].to = 'M9': must be one of M0"),
        ({"measure": "roll_rate", "to": "M2", "op": ">", "threshold": 1}, "rule[1].from is missing: is required"),
        ({"measure": "flow_rate", "from": "M1", "to": "M3", "op": ">", "threshold": 1}, "rule[1].to = 'M3': a flow rate goes to the next bucket (M2)"),
        ({"measure": "entry_rate", "op": "=>", "threshold": 1}, "rule[1].op = '=>': must be one of > >= < <="),
        ({"measure": "entry_rate", "op": ">", "threshold": "0.2"}, "rule[1].threshold = '0.2': must be a number"),
        ({"measure": "entry_rate", "op": ">"}, "rule[1].threshold is missing: must be a number"),
        ({"measure": "total_overdue_fen", "op": ">", "threshold": 1, "basis": "count"}, "rule[1].basis = 'count': must be one of balance"),
        ({"measure": "entry_rate", "op": ">", "threshold": 1, "severity": "high"}, "rule[1].severity = 'high': must be one of info, warning, critical"),
        ({"measure": "entry_rate", "op": ">", "threshold": 1, "bucket": "M1"}, "rule[1].bucket = 'M1': is not a key of measure 'entry_rate'"),
        ({"measure": "bucket_share", "bucket": "M1", "scheme": "us", "op": ">", "threshold": 1}, "rule[1].bucket = 'M1': must be one of current"),
        ({"measure": "vintage_ever", "dpd": -30, "mob": 3, "op": ">", "threshold": 1}, "rule[1].dpd = -30: must be a whole number >= 0"),
    ],
)  # fmt: skip
def test_config_errors_name_the_file_rule_key_and_value(rule: dict, message: str) -> None:
    with pytest.raises(AlertConfigError) as caught:
        parse_config({"rule": [rule]}, "alerts.toml")
    assert str(caught.value).startswith("alerts.toml: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(AlertConfigError, match="no such alerts file"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]]\nmeasure = \n")
    with pytest.raises(AlertConfigError, match=f"{bad}: not valid TOML"):
        load_config(bad)
    top = tmp_path / "top.toml"
    top.write_text('threshold = 1\n[[rule]]\nmeasure = "accounts"\nop = ">"\nthreshold = 1\n')
    with pytest.raises(AlertConfigError, match="key 'threshold' is not allowed at the top level"):
        load_config(top)
    twice = {"rule": [{"name": "x", "measure": "accounts", "op": ">", "threshold": 1}] * 2}
    with pytest.raises(AlertConfigError, match=r"rule\[2\].name = 'x' is used twice"):
        parse_config(twice, "t.toml")


def test_cohort_measures_need_the_book(measured: Monitoring) -> None:
    config = parse_config({"rule": [{"measure": "fpd_rate", "op": ">", "threshold": 0}]}, "f.toml")
    with pytest.raises(AlertConfigError, match=r"f.toml: rule\[1\].measure = 'fpd_rate': needs"):
        evaluate(config, measured)


def test_cohort_measures_with_the_book(tmp_path: Path) -> None:
    write_history(tmp_path / "s", tmp_path / "b")
    m = monitor(tmp_path / "s", period="month", book=tmp_path / "b")
    # ever 30+ at MOB 2: January cohort 2/4, February cohort 1/1 (see test_monitoring_vintage)
    got = fired(m, measure="vintage_ever", dpd=30, mob=2, op=">", threshold=0.5)
    assert got == [("2025-02", 1.0)]
    got = fired(m, measure="fpd_rate", op=">", threshold=0.5)
    assert got == [("2025-02", 1.0), ("2025-03", 1.0)]
    with pytest.raises(AlertConfigError, match="dpd = 45 is not one of the vintage thresholds"):
        fired(m, measure="vintage_current", dpd=45, mob=1, op=">", threshold=0)


def test_every_measure_is_documented() -> None:
    doc = (REPO / "docs" / "monitoring" / "measures.md").read_text(encoding="utf-8")
    for name, measure in MEASURES.items():
        assert f"| `{name}` |" in doc, name
        for param in measure.params:
            assert f"`{param.name}`" in doc, (name, param.name)
