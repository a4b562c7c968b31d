"""``overdue account-state`` end to end: JSON contract, readable output, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CASE = {
    "account_id": "L1",
    "product": "installment",
    "policy": {},
    "items": [
        {"id": "L-02", "due_date": "2026-02-10", "principal": "1000.00", "interest": "30.00"},
        {"id": "L-01", "due_date": "2026-01-10", "principal": "1000.00", "interest": "40.00"},
    ],
    "payments": [{"id": "P1", "date": "2026-01-20", "amount": "500.00"}],
    "waivers": [],
    "reversals": [],
}


def overdue(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "overdue", *args], capture_output=True, text=True, timeout=120
    )


def write(tmp_path: Path, case: dict | str) -> Path:
    path = tmp_path / "case.json"
    path.write_text(case if isinstance(case, str) else json.dumps(case), encoding="utf-8")
    return path


def test_json_output_follows_the_contract(tmp_path: Path) -> None:
    result = overdue("account-state", str(write(tmp_path, CASE)), "--as-of", "2026-02-15", "--policy", "jiebei-like", "--json")
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    # Hand check: penalty 0.06 %/day on principal + interest (jiebei-like). L-01: 1040 × 0.0006 =
    # 0.62/day for Jan 11–20 (10 days) = 6.20; the 500.00 payment pays penalty 6.20, interest
    # 40.00, principal 453.80 → 546.20 left; then 546.20 × 0.0006 = 0.33/day for Jan 21–Feb 15
    # (26 days) = 8.58. L-02: 1030 × 0.0006 = 0.62/day for Feb 11–15 = 3.10.
    assert state["dpd"] == 36 and state["oldest_past_due_date"] == "2026-01-10"
    assert state["status"] == "overdue" and state["bucket_cn"] == "M2" and state["bucket_us"] == "30"
    assert state["overdue_principal"] == "1546.20"
    assert state["overdue_interest"] == "30.00"
    assert state["penalty_accrued"] == "17.88"
    assert state["penalty_outstanding"] == "11.68"
    assert state["total_overdue"] == "1587.88"
    assert state["paid_total"] == "500.00"
    assert set(state) >= {
        "as_of", "status", "dpd", "bucket_cn", "bucket_us", "oldest_past_due_date", "overdue_principal",
        "overdue_interest", "overdue_fee", "penalty_outstanding", "total_overdue", "penalty_accrued",
        "credit_balance", "revolved_amount", "paid_total", "waived_total", "delinquent_since", "max_dpd",
        "charged_off_on", "recovered_after_charge_off",
    }


def test_readable_output_names_the_oldest_item_and_the_penalty_rule(tmp_path: Path) -> None:
    result = overdue("account-state", str(write(tmp_path, CASE)), "--as-of", "2026-02-15", "--policy", "jiebei-like")
    assert result.returncode == 0, result.stderr
    assert "Oldest open past-due item: L-01" in result.stdout
    assert "0.06 % a day" in result.stdout


@pytest.mark.parametrize(
    ("case", "policy", "needle"),
    [
        ("{not json", None, "malformed JSON"),
        ({**CASE, "policy": {"grace_day": 3}}, None, "grace_day"),
        ({**CASE, "payments": [{"id": "P1", "date": "2026-01-20", "amount": "-5.00"}]}, None, "negative"),
        ({**CASE, "reversals": [{"payment_id": "NOPE", "date": "2026-01-21"}]}, None, "NOPE"),
        ({**CASE, "policy": {"allocation_order": ["fee", "fee", "interest", "principal"]}}, None, "permutation"),
        ({**CASE, "items": [{"id": "x", "due_date": "2026-02-30", "principal": "1.00"}]}, None, "2026-02-30"),
        (CASE, None, "installment"),  # an installment product needs a penalty or contract rate
        (CASE, "no-such-preset", "no-such-preset"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, case, policy, needle) -> None:
    args = ["account-state", str(write(tmp_path, case)), "--as-of", "2026-02-15"]
    if policy:
        args += ["--policy", policy]
    result = overdue(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0]


def test_bad_date_option(tmp_path: Path) -> None:
    result = overdue("account-state", str(write(tmp_path, CASE)), "--as-of", "15/02/2026", "--policy", "jiebei-like")
    assert result.returncode == 2 and "--as-of" in result.stderr
