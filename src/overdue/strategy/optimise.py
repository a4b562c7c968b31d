"""The optimiser: from the logged outcomes of the randomised arms, the best path per segment.

It reads only the simulation's (or production's) logs — which arm each customer was in, the
segments its accounts were in, the contacts made, what was collected, complaints — never the
response model's parameters. Steps:

1. **Effects.** Every account-day of the log has a segment and an arm (the decisions). Its
   outcome is what the account paid in the next ``HORIZON_DAYS`` days (recoveries and on-time
   payments). Per segment and arm: the mean outcome per account-day, its difference with the
   hold-out's (95 % interval, delta method with customers as clusters: the arms are drawn at
   random per customer, so the difference is causal), and the cost, complaints and contacts
   per channel per account-day of the contacts actually made.
2. **Shrinkage.** Each effect is shrunk toward zero by its own noise (positive-part
   James–Stein: effect × max(0, 1 − se²/effect²)): an effect within one standard error of zero
   becomes 0, a precise one barely moves (:func:`shrink`).
3. **Allocation.** One choice per segment: one of the logged arms' paths, or no contact (the
   hold-out's treatment). Binary variables ``x[s, a]``, one per segment; maximise
   Σ n_s · (shrunk effect − cost − complaint_price · complaints) · x (n_s: account-days a day)
   subject to each channel's daily capacity (the spec's ``capacities``), the compliance caps
   (expected calls per customer a day within the profile's caps) and **complaints may not
   rise**: the expected complaints a day at most the champion's. With ``evidence`` (default), a
   path whose effect interval includes zero while it costs or complains is not eligible: no
   contact is the better-founded choice there. Solved with HiGHS (``scipy.optimize.milp``).
   Complaints are priced at ``COMPLAINT_PRICE_FEN`` each.
4. **Output.** The strategy spec with each segment's path replaced by the chosen one (no
   contact: the segment is kept and recorded, without a path), no challengers, the same
   hold-out (or another spec's hold-out share and salt, ``experiment_from``): a YAML file
   :func:`overdue.strategy.spec.load_spec` accepts, plus the effect table and the choice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from overdue.strategy import sim_metrics as sm

COMPLAINT_PRICE_FEN: Final = 20_000  # what one complaint costs (handling, reputation): assumption
NONE: Final = "none"
CHAMPION: Final = "champion"
MAX_SEGMENTS: Final = 200
CALL_CHANNELS: Final = ("voice_robot", "voice_agent")
CALLS_PER_DAY_CAP: Final = 3.0  # expected calls per customer a day (cn: 3 connected; us: 7/7)
HORIZON_DAYS: Final = 7  # money collected in the 7 days after an account-day counts for it


def _dense_days(payments: pa.Table, accounts: dict[str, int], first: int, days: int) -> np.ndarray:
    """Collected (recovered + paid on the due date) per account and day, as a dense matrix."""
    matrix = np.zeros((len(accounts), days + HORIZON_DAYS + 1), dtype=np.int64)
    if payments.num_rows == 0:
        return matrix
    rows = np.array([accounts[a] for a in payments["account_id"].to_pylist()], dtype=np.int64)
    day = pc.cast(payments["day"], pa.int32()).to_numpy(zero_copy_only=False) - first
    amount = payments["recovered_fen"].to_numpy() + payments["paid_on_due_date_fen"].to_numpy()
    keep = (day >= 0) & (day < matrix.shape[1])
    np.add.at(matrix, (rows[keep], day[keep]), amount[keep])
    return matrix


def _account_days(decisions: pa.Table, no_path: set[str]) -> pa.Table:
    """One row per account and day with its segment and arm (segments with a path only)."""
    table = decisions.select(["as_of", "account_id", "customer_id", "segment", "arm"])
    table = table.group_by(["as_of", "account_id"]).aggregate(
        [("customer_id", "min"), ("segment", "min"), ("arm", "min")]
    )
    table = table.rename_columns(["as_of", "account_id", "customer_id", "segment", "arm"])
    keep = pc.invert(pc.is_in(table["segment"], pa.array(sorted(no_path), pa.string())))
    return table.filter(keep)


def _ratio_by_customer(
    customers: np.ndarray, y: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer sums of y and n (the clusters of the delta-method interval)."""
    codes, index = np.unique(customers, return_inverse=True)
    ys = np.zeros(codes.size)
    ns = np.zeros(codes.size)
    np.add.at(ys, index, y)
    np.add.at(ns, index, n)
    return ys, ns


def _difference(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    value = a["value"] - b["value"]
    half = sm.Z95 * float(np.hypot(a["se"], b["se"]))
    return {"value": value, "low": value - half, "high": value + half}


def _ratio(ys: np.ndarray, ns: np.ndarray) -> dict[str, float]:
    ci = sm.ratio_ci(ys, ns)
    return {**ci, "se": (ci["high"] - ci["value"]) / sm.Z95}


def estimate_effects(logs: Path, no_path: set[str]) -> dict[str, Any]:
    """The effect table: per segment and arm, collected in the next ``HORIZON_DAYS`` per
    account-day in the segment, against the hold-out's, with 95 % intervals (customers as
    clusters); cost, complaints and contacts per channel per account-day."""
    from overdue.twin.response import CHANNEL_TABLE

    decisions = pq.read_table(logs / "decisions.parquet")
    made = (
        pq.read_table(logs / "outcomes.parquet") if (logs / "outcomes.parquet").is_file() else None
    )
    payments = pq.read_table(logs / "payments.parquet")
    days_all = pc.cast(decisions["as_of"], pa.int32()).to_numpy(zero_copy_only=False)
    first, last = int(days_all.min()), int(days_all.max())
    usable_last = last - HORIZON_DAYS
    if usable_last < first:
        raise ValueError(f"{logs}: fewer than {HORIZON_DAYS + 1} logged days")
    rows = _account_days(decisions, no_path)
    day = pc.cast(rows["as_of"], pa.int32()).to_numpy(zero_copy_only=False)
    rows = rows.filter(pa.array(day <= usable_last))
    day = day[day <= usable_last] - first
    accounts = {a: i for i, a in enumerate(sorted(set(decisions["account_id"].to_pylist())))}
    dense = np.cumsum(_dense_days(payments, accounts, first, last - first), axis=1)
    at = np.array([accounts[a] for a in rows["account_id"].to_pylist()], dtype=np.int64)
    # money comes the day after the contacts at the earliest: window (d, d + H]
    y = (dense[at, day + HORIZON_DAYS] - dense[at, day]).astype(np.float64)
    segment = np.array(rows["segment"].to_pylist(), dtype=object)
    arm = np.array(rows["arm"].to_pylist(), dtype=object)
    customer = np.array(rows["customer_id"].to_pylist(), dtype=object)
    per_day = _made_per_account_day(made, first, usable_last, CHANNEL_TABLE)
    n_days = usable_last - first + 1
    table: dict[str, Any] = {}
    for seg in sorted(set(segment.tolist())):
        in_seg = segment == seg
        hold = in_seg & (arm == "holdout")
        if not hold.any():
            continue
        base = _ratio(*_ratio_by_customer(customer[hold], y[hold], np.ones(int(hold.sum()))))
        arms: dict[str, Any] = {}
        for a in sorted(set(arm[in_seg].tolist())):
            pick = in_seg & (arm == a)
            count = int(pick.sum())
            mean = _ratio(*_ratio_by_customer(customer[pick], y[pick], np.ones(count)))
            stats = per_day.get((seg, a), {"cost_fen": 0.0, "complaints": 0.0, "channels": {}})
            arms[a] = {
                "account_days": count,
                "collected_per_account_day_fen": {k: v for k, v in mean.items() if k != "se"},
                "effect_vs_holdout_fen": _difference(mean, base),
                "cost_per_account_day_fen": stats["cost_fen"] / count,
                "complaints_per_account_day": stats["complaints"] / count,
                "contacts_per_account_day": {
                    ch: n / count for ch, n in sorted(stats["channels"].items())
                },
            }
        table[seg] = {"account_days": int(in_seg.sum()), "per_day": in_seg.sum() / n_days,
                      "arms": arms}  # fmt: skip
    return {"days": n_days, "horizon_days": HORIZON_DAYS, "segments": table}


def _made_per_account_day(
    made: pa.Table | None, first: int, last: int, costs: dict[str, Any]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Contacts made (by channel), their cost and complaints, per (segment, arm)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if made is None or made.num_rows == 0:
        return out
    day = pc.cast(made["as_of"], pa.int32()).to_numpy(zero_copy_only=False)
    keep = (day >= first) & (day <= last)
    made = made.filter(pa.array(keep))
    complaint = made["complaint"].to_pylist() if "complaint" in made.column_names else None
    for i, (seg, a, ch) in enumerate(
        zip(
            made["segment"].to_pylist(),
            made["arm"].to_pylist(),
            made["channel"].to_pylist(),
            strict=True,
        )
    ):
        entry = out.setdefault((seg, a), {"cost_fen": 0.0, "complaints": 0.0, "channels": {}})
        entry["cost_fen"] += costs[ch].cost_fen
        entry["channels"][ch] = entry["channels"].get(ch, 0) + 1
        if complaint is not None and complaint[i]:
            entry["complaints"] += 1
    return out


def shrink(effects: dict[str, Any]) -> float:
    """Shrink every arm's effect toward zero by its own noise (positive-part James–Stein).

    With a normal prior N(0, tau^2) for one effect and tau^2 estimated from the effect itself,
    max(0, effect^2 − se^2), the posterior mean is effect × max(0, 1 − se^2 / effect^2): an
    effect within one standard error of zero becomes 0, a precise one barely moves. Effects
    differ in scale by segment (pre-due reminders, early calls, agencies), so no common prior
    is pooled. Sets ``effect_shrunk_fen`` on every arm; returns the mean factor kept."""
    kept = []
    for data in effects["segments"].values():
        for arm, row in data["arms"].items():
            if arm == "holdout":
                continue
            effect = row["effect_vs_holdout_fen"]
            value, se = float(effect["value"]), _se(effect)
            square = value * value
            factor = max(0.0, 1.0 - (se * se) / square) if square > 0 else 0.0
            row["effect_shrunk_fen"] = value * factor
            kept.append(factor)
    return float(np.mean(kept)) if kept else 0.0


def _se(interval: dict[str, float]) -> float:
    return (interval["high"] - interval["low"]) / (2 * sm.Z95)


def _net(row: dict[str, Any], complaint_price_fen: float, evidence: bool) -> float | None:
    """Expected net value per account-day of an arm's path (None: not eligible).

    With ``evidence``, a path whose effect interval includes zero is not eligible when it
    costs or complains: no contact is then the better-founded choice."""
    effect = row["effect_vs_holdout_fen"]
    cost = row["cost_per_account_day_fen"]
    complaints = row["complaints_per_account_day"]
    if evidence and effect["low"] <= 0 and (cost > 0 or complaints > 0):
        return None
    gain = row.get("effect_shrunk_fen", effect["value"])
    return float(gain - cost - complaint_price_fen * complaints)


def _pessimistic(data: dict[str, Any], complaint_price_fen: float) -> dict[str, float]:
    """Values per account-day anchored at the champion, pessimistic for every departure.

    The champion keeps its own value V_c (shrunk effect − cost − complaint price × complaints).
    Another arm a gets V_c + the lower 95 % bound of (mean_a − mean_c) − (its extra cost and
    complaint price); no contact gets V_c + the lower bound of (0 − effect_c) + the champion's
    cost and complaint price. Arms are disjoint groups of customers, so the difference of their
    means has the variance of both (customers as clusters). Empty without a champion arm."""
    arms = data["arms"]
    champion = arms.get(CHAMPION)
    if champion is None or "holdout" not in arms:
        return {}

    def price(row: dict[str, Any]) -> float:
        complaints = complaint_price_fen * row["complaints_per_account_day"]
        return float(row["cost_per_account_day_fen"] + complaints)

    base = champion.get("effect_shrunk_fen", champion["effect_vs_holdout_fen"]["value"])
    v_champion = float(base) - price(champion)
    mean_c = champion["collected_per_account_day_fen"]
    out = {CHAMPION: v_champion}
    for arm, row in arms.items():
        if arm in (CHAMPION, "holdout"):
            continue
        mean_a = row["collected_per_account_day_fen"]
        low = mean_a["value"] - mean_c["value"] - sm.Z95 * float(np.hypot(_se(mean_a), _se(mean_c)))
        out[arm] = v_champion + low - (price(row) - price(champion))
    effect_c = champion["effect_vs_holdout_fen"]
    out[NONE] = v_champion - effect_c["high"] + price(champion)
    return out


def allocate(
    effects: dict[str, Any],
    capacities: dict[str, int],
    population: dict[str, float],
    complaint_price_fen: float = COMPLAINT_PRICE_FEN,
    *,
    evidence: bool = True,
    complaints_cap_arm: str | None = CHAMPION,
    complaints_share: float = 1.0,
    pessimistic: bool = False,
) -> dict[str, Any]:
    """Choose one arm's path (or none) per segment with HiGHS under capacities and caps.

    ``pessimistic``: every departure from the champion's path (another arm's, or none) is
    valued at the lower 95 % bound of its improvement over the champion (see
    :func:`_pessimistic`): the champion changes only where the log is confident, or where the
    complaint budget forces it (then at the least confident loss).

    ``complaints_cap_arm``: the expected complaints a day may not exceed ``complaints_share``
    × those of this arm's paths (the champion; 1.0: complaints may not rise; 0.7: a complaint
    budget 30 % below the champion's)."""
    assert 0.0 <= complaints_share <= 10.0, complaints_share
    from scipy.optimize import Bounds, LinearConstraint, milp

    choices: list[tuple[str, str]] = []
    value: list[float] = []
    complaints: list[float] = []
    cap_complaints = 0.0
    for seg, data in sorted(effects["segments"].items()):
        n = population.get(seg, data["per_day"])
        anchored = _pessimistic(data, complaint_price_fen) if pessimistic else {}
        choices.append((seg, NONE))
        value.append(n * anchored.get(NONE, 0.0))
        complaints.append(0.0)
        for arm, row in sorted(data["arms"].items()):
            if arm == complaints_cap_arm:
                cap_complaints += n * row["complaints_per_account_day"]
            if arm == "holdout":
                continue
            net = _net(row, complaint_price_fen, evidence and not anchored)
            if net is None:
                continue
            value.append(n * anchored.get(arm, net))
            complaints.append(n * row["complaints_per_account_day"])
            choices.append((seg, arm))
    assert len({s for s, _ in choices}) <= MAX_SEGMENTS
    k = len(choices)
    c = -np.array(value)  # milp minimises
    segments = sorted({s for s, _ in choices})
    one_each = np.array([[1.0 if s == seg else 0.0 for s, _ in choices] for seg in segments])
    constraints = [LinearConstraint(one_each, 1.0, 1.0)]
    cap_complaints *= complaints_share
    if complaints_cap_arm is not None:
        constraints.append(LinearConstraint(np.array([complaints]), -np.inf, cap_complaints))
    for channel, cap in sorted(capacities.items()):
        row = np.zeros(k)
        for j, (seg, arm) in enumerate(choices):
            if arm != NONE:
                rate = effects["segments"][seg]["arms"][arm]["contacts_per_account_day"]
                row[j] = population.get(seg, 0.0) * rate.get(channel, 0.0)
        if row.any():
            constraints.append(LinearConstraint(row.reshape(1, -1), -np.inf, float(cap)))
    upper = np.ones(k)
    for j, (seg, arm) in enumerate(choices):
        if arm != NONE:
            rate = effects["segments"][seg]["arms"][arm]["contacts_per_account_day"]
            if sum(rate.get(ch, 0.0) for ch in CALL_CHANNELS) > CALLS_PER_DAY_CAP:
                upper[j] = 0.0  # breaks the compliance caps on average: not allowed
    result = milp(
        c, constraints=constraints, integrality=np.ones(k), bounds=Bounds(np.zeros(k), upper)
    )
    if result.x is None:
        raise ValueError(f"HiGHS found no allocation: {result.message}")
    chosen = {choices[j][0]: choices[j][1] for j in range(k) if result.x[j] > 0.5}
    expected = float(sum(complaints[j] for j in range(k) if result.x[j] > 0.5))
    return {
        "status": str(result.message),
        "objective_fen": float(-result.fun),
        "complaints_per_day": {"chosen": expected, "cap": cap_complaints},
        "expected_per_day": {
            "chosen": _expected(effects, population, chosen),
            "champion": _expected(
                effects, population, {seg: CHAMPION for seg in effects["segments"]}
            ),
        },
        "chosen": dict(sorted(chosen.items())),
    }


def _expected(
    effects: dict[str, Any], population: dict[str, float], chosen: dict[str, str]
) -> dict[str, float]:
    """Expected effect (unshrunk), cost, contacts and complaints a day of a choice per segment."""
    totals = {"effect_fen": 0.0, "cost_fen": 0.0, "contacts": 0.0, "complaints": 0.0}
    for seg, arm in chosen.items():
        row = effects["segments"][seg]["arms"].get(arm)
        if row is None:
            continue
        n = population.get(seg, effects["segments"][seg]["per_day"])
        totals["effect_fen"] += n * row["effect_vs_holdout_fen"]["value"]
        totals["cost_fen"] += n * row["cost_per_account_day_fen"]
        totals["contacts"] += n * sum(row["contacts_per_account_day"].values())
        totals["complaints"] += n * row["complaints_per_account_day"]
    return totals


def optimised_spec(spec: Any, chosen: dict[str, str]) -> dict[str, Any]:
    """The spec as YAML data with each segment's chosen path (no challengers)."""
    data = spec.model_dump(mode="json", exclude={"content_hash"}, exclude_none=True)
    for seg in data["segments"]:
        arm = chosen.get(seg["name"])
        if arm is None:
            continue
        if arm == NONE:
            seg.pop("path", None)
        else:
            path = spec.path_for(seg["name"], arm)
            if path is None:
                seg.pop("path", None)
            else:
                seg["path"] = path
    used = {s["path"] for s in data["segments"] if s.get("path")}
    used |= {t["path"] for t in data.get("triggers", [])}
    data["paths"] = {name: p for name, p in data["paths"].items() if name in used}
    data["name"] = f"{spec.name}-optimised"
    data["version"] = f"{spec.version}-opt"
    data["description"] = (
        f"{spec.name} with each segment's path chosen by overdue optimise from the logged "
        "outcomes of its randomised arms and hold-out (HiGHS)."
    )
    data["experiment"]["challengers"] = []
    return data


def optimise_from_logs(
    logs: Path,
    strategy: Any,
    out: Path,
    *,
    experiment_from: Any = None,
    evidence: bool = True,
    complaints_cap_arm: str | None = CHAMPION,
    complaints_share: float = 1.0,
    pessimistic: bool = False,
) -> dict[str, Any]:
    """Effects from ``logs``, shrinkage, allocation, and the optimised spec written to ``out``.

    ``experiment_from``: a spec (name, file or loaded) whose hold-out share and salt the
    optimised spec takes — e.g. ``default``, so that it is compared with the default on the
    same hold-out customers; by default the learning spec's own."""
    from overdue.strategy import wiring
    from overdue.strategy.spec import load_spec

    spec = wiring.load_strategy(strategy)
    no_path = {s.name for s in spec.segments if s.path is None}
    effects = estimate_effects(Path(logs), no_path)
    kept = shrink(effects)
    population = {seg: float(data["per_day"]) for seg, data in effects["segments"].items()}
    allocation = allocate(
        effects, spec.daily_limits(), population,
        evidence=evidence, complaints_cap_arm=complaints_cap_arm,
        complaints_share=complaints_share, pessimistic=pessimistic,
    )  # fmt: skip
    data = optimised_spec(spec, allocation["chosen"])
    if experiment_from is not None:
        base = wiring.load_strategy(experiment_from)
        data["experiment"]["salt"] = base.experiment.salt
        data["experiment"]["holdout_share"] = base.experiment.holdout_share
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = "# Written by overdue optimise from logged outcomes (see docs/strategy/optimiser.md)\n"
    out.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    load_spec(out)  # the loader accepts it (raises SpecError otherwise)
    report = {"status": allocation["status"], "chosen": allocation["chosen"],
              "objective_fen": allocation["objective_fen"],
              "complaints_per_day": allocation["complaints_per_day"],
              "expected_per_day": allocation["expected_per_day"],
              "method": {"shrinkage_mean_factor": kept, "evidence": evidence,
                         "complaints_cap_arm": complaints_cap_arm,
                         "complaints_share": complaints_share,
                         "pessimistic": pessimistic,
                         "complaint_price_fen": COMPLAINT_PRICE_FEN},
              "effects": effects}  # fmt: skip
    (out.parent / f"{out.stem}.effects.json").write_text(
        json.dumps(sm_round(report), indent=2, ensure_ascii=False) + "\n"
    )
    return {"status": allocation["status"], "chosen": allocation["chosen"], "spec": str(out)}


def sm_round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: sm_round(v) for k, v in value.items()}
    return value


def paired_comparison(logs_a: Path, logs_b: Path) -> dict[str, dict[str, float]]:
    """Strategy a − strategy b on the same customers (a ``--vs`` run: identical book copies and
    seeds), 95 % intervals from the per-customer differences (delta method for the ratio):
    recovered per contact (fen), complaints per 1,000 customers, contacts, recovered (fen)."""
    a = pq.read_table(Path(logs_a) / "customers.parquet").sort_by("customer_id")
    b = pq.read_table(Path(logs_b) / "customers.parquet").sort_by("customer_id")
    assert a["customer_id"].equals(b["customer_id"]), "the two runs must share their customers"
    n = a.num_rows
    ra, rb = (t["recovered_fen"].to_numpy().astype(np.float64) for t in (a, b))
    ca, cb = (t["contacts"].to_numpy().astype(np.float64) for t in (a, b))
    ka, kb = (t["complaints"].to_numpy().astype(np.float64) for t in (a, b))
    per_a, per_b = ra.sum() / ca.sum(), rb.sum() / cb.sum()
    # influence of each customer on R_a − R_b (ratio of sums, delta method), paired
    influence = (ra - per_a * ca) / ca.sum() - (rb - per_b * cb) / cb.sum()
    half = sm.Z95 * float(np.sqrt(n * influence.var(ddof=1)))

    def total(d: np.ndarray, scale: float = 1.0) -> dict[str, float]:
        value, spread = float(d.sum()) * scale, sm.Z95 * float(np.sqrt(n) * d.std(ddof=1)) * scale
        return {"value": value, "low": value - spread, "high": value + spread}

    diff = float(per_a - per_b)
    return {
        "recovered_per_contact_fen": {"value": diff, "low": diff - half, "high": diff + half},
        "complaints_per_1000_customers": total(ka - kb, 1000.0 / n),
        "contacts": total(ca - cb),
        "recovered_fen": total(ra - rb),
    }
