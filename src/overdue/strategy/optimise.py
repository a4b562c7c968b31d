"""The optimiser: from the logged outcomes of the randomised arms, the best path per segment.

It reads only the simulation's (or production's) logs — which arm each customer was in, the
segments its accounts were in, the contacts made, what was collected, complaints — never the
response model's parameters. Steps:

1. **Effects.** Each customer is counted in the first segment with a contact path it entered
   during the logged period (its *entry segment*). Per entry segment and arm: the mean amount
   collected per customer (on-time payments plus recoveries), cost, complaints and contacts per
   channel and day. The effect of an arm's path is its mean collected minus the hold-out's, with
   a 95 % interval (Welch, normal approximation). The arms were drawn at random by customer, so
   the difference is causal for the entry segment's population.
2. **Allocation.** One choice per segment: one of the logged arms' paths, or no contact (the
   hold-out's treatment). Binary variables ``x[s, a]``, one per segment; maximise
   Σ n_s · (effect − cost − complaint_price · complaints) · x subject to each channel's daily
   capacity (the spec's ``capacities``) and the compliance caps (expected calls per customer a
   day within the profile's caps). Solved with HiGHS (``scipy.optimize.milp``). An effect whose
   interval reaches below zero is priced at its lower bound (we only pay for what the data
   shows). Complaints are priced at ``COMPLAINT_PRICE_FEN`` each.
3. **Output.** The strategy spec with each segment's path replaced by the chosen one (no
   contact: the segment is kept and recorded, without a path), no challengers, the same
   hold-out: a YAML file :func:`overdue.strategy.spec.load_spec` accepts, plus the effect table.
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
MAX_SEGMENTS: Final = 200
CALL_CHANNELS: Final = ("voice_robot", "voice_agent")
CALLS_PER_DAY_CAP: Final = 3.0  # expected calls per customer a day (cn: 3 connected; us: 7/7)


def entry_segments(decisions: pa.Table, no_path: set[str]) -> dict[str, str]:
    """customer_id → the first segment with a path its accounts entered (by day, then priority)."""
    active = decisions.filter(pc.invert(pc.is_in(decisions["segment"], pa.array(sorted(no_path)))))
    ordered = active.select(["as_of", "customer_id", "segment"]).sort_by(
        [("as_of", "ascending"), ("customer_id", "ascending"), ("segment", "ascending")]
    )
    first: dict[str, str] = {}
    for cid, seg in zip(
        ordered["customer_id"].to_pylist(), ordered["segment"].to_pylist(), strict=True
    ):
        if cid not in first:
            first[cid] = seg
    return first


def _channel_rates(contacts: pa.Table, customers: pa.Table, days: int) -> dict[str, np.ndarray]:
    """Per customer (rows of ``customers``): allowed contacts a day, by channel."""
    index = {c: i for i, c in enumerate(customers["customer_id"].to_pylist())}
    made = contacts.filter(contacts["allowed"]) if "allowed" in contacts.column_names else contacts
    out: dict[str, np.ndarray] = {}
    channels = made["channel"].to_pylist()
    owners = made["customer_id"].to_pylist()
    for channel in sorted(set(channels)):
        counts = np.zeros(customers.num_rows)
        for ch, cid in zip(channels, owners, strict=True):
            if ch == channel:
                counts[index[cid]] += 1
        out[channel] = counts / max(days, 1)
    return out


def estimate_effects(logs: Path, no_path: set[str]) -> dict[str, Any]:
    """The effect table: per entry segment and arm, collected/cost/complaints with intervals."""
    customers = pq.read_table(logs / "customers.parquet")
    decisions = pq.read_table(
        logs / "decisions.parquet", columns=["as_of", "customer_id", "segment"]
    )
    contacts = pq.read_table(
        logs / "contacts.parquet", columns=["customer_id", "channel", "allowed"]
    )
    days = len(pc.unique(decisions["as_of"]))
    entry = entry_segments(decisions, no_path)
    ids = customers["customer_id"].to_pylist()
    segment = np.array([entry.get(c, "") for c in ids], dtype=object)
    arm = np.array(customers["arm"].to_pylist(), dtype=object)
    collected = customers["recovered_fen"].to_numpy() + customers["paid_on_due_date_fen"].to_numpy()
    cost = customers["cost_fen"].to_numpy()
    complaints = customers["complaints"].to_numpy()
    rates = _channel_rates(contacts, customers, days)
    table: dict[str, Any] = {}
    for seg in sorted(set(segment) - {""}):
        in_seg = segment == seg
        hold = in_seg & (arm == "holdout")
        rows: dict[str, Any] = {}
        for a in sorted(set(arm[in_seg])):
            pick = in_seg & (arm == a)
            rows[a] = {
                "customers": int(pick.sum()),
                "collected_per_customer_fen": sm.mean_ci(collected[pick]),
                "effect_vs_holdout_fen": sm.difference_ci(collected[pick], collected[hold]),
                "cost_per_customer_fen": sm.mean_ci(cost[pick]),
                "complaints_per_customer": sm.mean_ci(complaints[pick]),
                "contacts_per_customer_day": {
                    ch: float(r[pick].mean()) for ch, r in rates.items() if r[pick].any()
                },
            }
        table[seg] = {"customers": int(in_seg.sum()), "arms": rows}
    return {"days": days, "segments": table}


def allocate(
    effects: dict[str, Any],
    capacities: dict[str, int],
    population: dict[str, float],
    complaint_price_fen: float = COMPLAINT_PRICE_FEN,
) -> dict[str, Any]:
    """Choose one arm's path (or none) per segment with HiGHS under capacities and caps."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    choices: list[tuple[str, str]] = []
    value: list[float] = []
    for seg, data in sorted(effects["segments"].items()):
        n = population.get(seg, data["customers"])
        choices.append((seg, NONE))
        value.append(0.0)
        for arm, row in sorted(data["arms"].items()):
            if arm == "holdout":
                continue
            effect = row["effect_vs_holdout_fen"]
            gain = effect["value"] if effect["low"] > 0 else min(effect["value"], effect["low"])
            net = gain - row["cost_per_customer_fen"]["value"]
            net -= complaint_price_fen * row["complaints_per_customer"]["value"]
            value.append(n * net)
            choices.append((seg, arm))
    assert len({s for s, _ in choices}) <= MAX_SEGMENTS
    k = len(choices)
    c = -np.array(value)  # milp minimises
    segments = sorted({s for s, _ in choices})
    one_each = np.array([[1.0 if s == seg else 0.0 for s, _ in choices] for seg in segments])
    constraints = [LinearConstraint(one_each, 1.0, 1.0)]
    for channel, cap in sorted(capacities.items()):
        row = np.zeros(k)
        for j, (seg, arm) in enumerate(choices):
            if arm != NONE:
                rate = effects["segments"][seg]["arms"][arm]["contacts_per_customer_day"]
                row[j] = population.get(seg, 0.0) * rate.get(channel, 0.0)
        if row.any():
            constraints.append(LinearConstraint(row.reshape(1, -1), -np.inf, float(cap)))
    upper = np.ones(k)
    for j, (seg, arm) in enumerate(choices):
        if arm != NONE:
            rate = effects["segments"][seg]["arms"][arm]["contacts_per_customer_day"]
            if sum(rate.get(ch, 0.0) for ch in CALL_CHANNELS) > CALLS_PER_DAY_CAP:
                upper[j] = 0.0  # breaks the compliance caps on average: not allowed
    result = milp(
        c, constraints=constraints, integrality=np.ones(k), bounds=Bounds(np.zeros(k), upper)
    )
    if result.x is None:
        raise ValueError(f"HiGHS found no allocation: {result.message}")
    chosen = {choices[j][0]: choices[j][1] for j in range(k) if result.x[j] > 0.5}
    return {
        "status": str(result.message),
        "objective_fen": float(-result.fun),
        "chosen": dict(sorted(chosen.items())),
    }


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


def optimise_from_logs(logs: Path, strategy: Any, out: Path) -> dict[str, Any]:
    """Effects from ``logs``, allocation, and the optimised spec written to ``out`` (YAML)."""
    from overdue.strategy import wiring
    from overdue.strategy.spec import load_spec

    spec = wiring.load_strategy(strategy)
    no_path = {s.name for s in spec.segments if s.path is None}
    effects = estimate_effects(Path(logs), no_path)
    population = {
        seg: data["customers"] / max(effects["days"], 1) * 30
        for seg, data in effects["segments"].items()
    }
    allocation = allocate(effects, spec.daily_limits(), population)
    data = optimised_spec(spec, allocation["chosen"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = "# Written by overdue optimise from logged outcomes (see docs/strategy/optimiser.md)\n"
    out.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    load_spec(out)  # the loader accepts it (raises SpecError otherwise)
    report = {"status": allocation["status"], "chosen": allocation["chosen"],
              "objective_fen": allocation["objective_fen"], "effects": effects}  # fmt: skip
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
