"""What-if simulation: strategies on identical copies of a twin book, day by day.

``simulate(SimConfig(...))`` generates a twin book (:mod:`overdue.strategy.sim_book`), computes
its snapshot of the day before the first simulated day, then for each strategy (``strategy`` and
its rival ``vs``) on its own copy of the book, with the same seed, for each day E:

1. the contacts planned by the previous day's run are made, in the order of their planned times:
   each time slot passes the gate once more at send time (the dialer's re-check: a third
   connected call or a call after a conversation the same day is stopped), then the response
   model (:mod:`overdue.twin.response`) answers them (:class:`~overdue.strategy.sim_world.World`);
2. the day's payments (promised, reminded, self-cured) are booked into the book;
3. :func:`overdue.strategy.run_day.run_day` runs the end-of-day batch, decisions and the gate
   for E and writes the outbox rows.

Outputs in ``out``: ``summary.json`` (per strategy and arm: recovered, cost, contacts, blocked
attempts by rule, complaints, attrition, roll rates, recovered per contact, each with a 95 %
interval), ``contacts.csv`` (every attempted contact), ``customers.csv`` and ``flags.csv`` (what
an independent compliance check needs), and ``logs/<strategy>/`` (the logged outcomes per
customer and arm, the optimiser's input). Same config → identical files.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from overdue.portfolio.eod import run_eod, snapshot_path
from overdue.strategy import sim_metrics as sm
from overdue.strategy.run_day import run_day
from overdue.strategy.sim_book import (
    FLAG_COLUMNS,
    People,
    copy_book,
    day_range,
    flags_table,
    initial_flags,
    load_people,
    make_base_book,
)
from overdue.strategy.sim_world import DayState, World
from overdue.strategy.timeslots import local_times

MAX_DAYS: Final = 400
MAX_ACCOUNTS: Final = 2_000_000
CONTACT_COLUMNS: Final = (
    "contact_id",
    "customer_id",
    "account_id",
    "channel",
    "to_address",
    "attempted_at",
    "connected",
    "right_party",
    "outcome",
    "blocked_rule",
    "strategy",
    "arm",
    "recipient_kind",
    "tone",
    "template",
    "dpd",
)
Progress = Callable[[str, int, int], None]
EPOCH: Final = date(1970, 1, 1)
PROCESSES_ENV: Final = "OVERDUE_SIM_PROCESSES"
MAX_PROCESSES: Final = 2  # one per strategy
CSV_COPY_BYTES: Final = 16 << 20
HISTORY_KEEP_DAYS: Final = 14  # the gate looks back 7 days (+ its margins); older attempts go


@dataclass(frozen=True)
class SimConfig:
    accounts: int
    days: int
    strategy: str | Path
    profile: str
    seed: int
    out: Path
    vs: str | Path | None = None
    engine: str = "duckdb"
    keep_snapshots: bool = False
    book: Path | None = None  # reuse a prepared base book (from an earlier run) if given
    # strategies run in parallel processes (same outputs); default from OVERDUE_SIM_PROCESSES
    processes: int = field(default_factory=lambda: int(os.environ.get(PROCESSES_ENV, "1")))

    def __post_init__(self) -> None:
        if not 1 <= self.days <= MAX_DAYS:
            raise ValueError(f"days: {self.days} must be between 1 and {MAX_DAYS}")
        if not 10 <= self.accounts <= MAX_ACCOUNTS:
            raise ValueError(f"accounts: {self.accounts} must be between 10 and {MAX_ACCOUNTS}")
        if self.profile not in ("cn", "us"):
            raise ValueError(f"profile: {self.profile!r} must be cn or us")
        if not 1 <= self.processes <= MAX_PROCESSES:
            raise ValueError(f"processes: {self.processes} must be between 1 and {MAX_PROCESSES}")


@dataclass
class StrategyRun:
    label: str
    spec: Any
    book: Path
    snapshots: Path
    world: World
    history: Any
    arms: np.ndarray  # arm name per customer
    blocked_by_arm: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    start_bucket: list[str] = field(default_factory=list)
    end_bucket: list[str] = field(default_factory=list)
    state: DayState | None = None


def simulate(config: SimConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Run the simulation and write its outputs (see the module docstring)."""
    out = Path(config.out)
    work = out / "_work"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    base = work / "base_book"
    if config.book is not None:
        base, start = Path(config.book), _start_of(Path(config.book))
    else:
        start, _ = make_base_book(config.accounts, config.days, config.seed, base)
        (base / "sim_start.txt").write_text(start.isoformat() + "\n")
    prepare_seconds = time.perf_counter() - started
    people = load_people(base)
    base_snaps = work / "base_snapshots"
    if not snapshot_path(base_snaps, start - timedelta(days=1)).is_dir():
        run_eod(base, start - timedelta(days=1), base_snaps, engine=config.engine)
    flags0 = initial_flags(people, config.seed, start)
    specs = [("strategy", config.strategy)] + ([("vs", config.vs)] if config.vs else [])
    summary: dict[str, Any] = {
        "config": _config_json(config, start),
        "confidence_intervals": "95 %, normal approximation over customers "
        "(ratios: delta method; shares: binomial)",
        "strategies": {},
    }
    setting = _Setting(config, start, base, base_snaps, work, people, flags0)
    if config.processes > 1 and len(specs) > 1:
        done = _in_processes(setting, specs, out / "contacts.csv", config.processes)
    else:
        writer = _CsvWriter(out / "contacts.csv")
        try:
            done = [_one_strategy(setting, label, s, writer, progress) for label, s in specs]
        finally:
            writer.close()
    for result in done:
        summary["strategies"][result.label] = result.summary
    _write_people(out, people, flags0, [(r.label, r.flag_events) for r in done], start)
    (out / "summary.json").write_text(
        json.dumps(_rounded(summary), indent=2, ensure_ascii=False) + "\n"
    )
    seconds: dict[str, Any] = {"prepare_book": round(prepare_seconds, 1)}
    for result in done:
        seconds[result.label] = {k: round(v, 1) for k, v in sorted(result.seconds.items())}
    seconds["total"] = round(time.perf_counter() - started, 1)
    (out / "timings.json").write_text(json.dumps(seconds, indent=2) + "\n")
    summary["seconds"] = seconds  # returned, not in summary.json (timings vary between runs)
    if not config.keep_snapshots:
        for result in done:
            _prune(result.snapshots, keep=None)
    return summary


@dataclass(frozen=True)
class _Setting:
    """What every strategy's run starts from (picklable: a run may go to another process)."""

    config: SimConfig
    start: date
    base: Path
    base_snaps: Path
    work: Path
    people: People
    flags0: dict[str, np.ndarray]


@dataclass
class _Done:
    label: str
    summary: dict[str, Any]
    flag_events: list[tuple[str, str, str]]
    seconds: dict[str, float]
    snapshots: Path


def _one_strategy(
    setting: _Setting,
    label: str,
    strategy: str | Path,
    writer: _CsvWriter,
    progress: Progress | None = None,
) -> _Done:
    """One strategy over every simulated day: its contacts into ``writer``, its summary and
    logs."""
    from overdue.strategy import wiring

    config, people = setting.config, setting.people
    spec = wiring.load_strategy(strategy)
    run = _new_run(label, spec, setting.base, setting.base_snaps, setting.work, people,
                   setting.flags0, config, setting.start)  # fmt: skip
    for n, day in enumerate(day_range(setting.start, config.days), start=1):
        _simulate_day(run, day, config, writer)
        if progress is not None:
            progress(f"{label}: {spec.name}", n, config.days)
    summary = _strategy_summary(run, people, config)
    _write_logs(run, people, Path(config.out) / "logs" / label)
    return _Done(label, summary, run.world.flag_events, run.seconds, run.snapshots)


def _strategy_apart(setting: _Setting, label: str, strategy: str | Path, part: Path) -> _Done:
    """:func:`_one_strategy` in a process of its own, its contacts into the CSV file ``part``."""
    writer = _CsvWriter(part)
    try:
        return _one_strategy(setting, label, strategy, writer)
    finally:
        writer.close()


def _in_processes(
    setting: _Setting, specs: list[tuple[str, str | Path]], csv_path: Path, processes: int
) -> list[_Done]:
    """The strategies in parallel processes; ``contacts.csv`` = their parts in spec order (one
    header), byte for byte what one process writes."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    parts = [setting.work / f"contacts-{label}.csv" for label, _ in specs]
    workers = min(processes, len(specs))
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(_strategy_apart, setting, label, strategy, part)
            for (label, strategy), part in zip(specs, parts, strict=True)
        ]
        done = [f.result() for f in futures]
    with csv_path.open("wb") as target:
        for i, part in enumerate(parts):
            with part.open("rb") as source:
                header = source.readline()
                if i == 0:
                    target.write(header)
                shutil.copyfileobj(source, target, CSV_COPY_BYTES)
            part.unlink()
    return done


def _start_of(book: Path) -> date:
    return date.fromisoformat((book / "sim_start.txt").read_text().strip())


def _config_json(config: SimConfig, start: date) -> dict[str, Any]:
    return {
        "accounts": config.accounts,
        "days": config.days,
        "strategy": str(config.strategy),
        "vs": None if config.vs is None else str(config.vs),
        "profile": config.profile,
        "seed": config.seed,
        "first_day": start.isoformat(),
        "last_day": (start + timedelta(days=config.days - 1)).isoformat(),
    }


def _new_run(
    label: str,
    spec: Any,
    base: Path,
    base_snaps: Path,
    work: Path,
    people: People,
    flags0: dict[str, np.ndarray],
    config: SimConfig,
    start: date,
) -> StrategyRun:
    from overdue.strategy import wiring

    book = copy_book(base, work / label / "book")
    snaps = work / label / "snapshots"
    if snaps.exists():
        shutil.rmtree(snaps)
    shutil.copytree(base_snaps, snaps)
    flags = {name: values.copy() for name, values in flags0.items()}
    world = World(people, flags, config.seed, book)
    arms = wiring.arms_of(spec, people.customer_id)
    run = StrategyRun(label, spec, book, snaps, world, wiring.new_history(keep_blocked=False), arms)
    run.state = DayState.read(snaps, start - timedelta(days=1), start, people.account_id)
    run.start_bucket = [b or "new" for b in run.state.bucket_cn.tolist()]
    return run


def _timed(run: StrategyRun, name: str, seconds: float) -> None:
    run.seconds[name] = run.seconds.get(name, 0.0) + seconds


def _simulate_day(run: StrategyRun, day: date, config: SimConfig, writer: _CsvWriter) -> None:
    """Payments of the day, the daily run, then the day's contacts and their answers."""
    t0 = time.perf_counter()
    assert run.state is not None, "the run starts from the snapshot before its first day"
    run.world.pay_day(run.state, day)
    _timed(run, "payments", time.perf_counter() - t0)
    report = run_day(
        run.book,
        day,
        snapshots=run.snapshots,
        strategy=run.spec,
        profile=config.profile,
        history=run.history,
        flags=flags_table(run.world.people, run.world.flags),
        outbox_dir=run.snapshots / "outbox",
        render=False,
        engine=config.engine,
        events=run.world.events(day),
        history_state=run.world.history_state(day),
    )
    for step in report.steps:
        _timed(run, f"run_day {step.name}", step.seconds)
    t0 = time.perf_counter()
    ids = run.world.people.account_id
    run.state = DayState.read(run.snapshots, day, day + timedelta(days=1), ids)
    run.end_bucket = [b or "new" for b in run.state.bucket_cn.tolist()]
    _timed(run, "read state", time.perf_counter() - t0)
    t0 = time.perf_counter()
    assert report.gated is not None
    _make_contacts(run, report.gated, run.state, day, config, writer)
    _timed(run, "contacts + responses", time.perf_counter() - t0)
    if not config.keep_snapshots:
        _prune(run.snapshots, keep=day)
    run.history.forget_before((day - EPOCH).days - HISTORY_KEEP_DAYS)


def _make_contacts(
    run: StrategyRun,
    gated: pa.Table,
    state: DayState,
    day: date,
    config: SimConfig,
    writer: _CsvWriter,
) -> None:
    """Blocked rows go straight to the log; allowed rows are made slot by slot.

    Each slot (one planned instant) passes the gate again with the history of the slots before
    it: the dialer stops a call that an earlier answer of the same day made unlawful.
    """
    from overdue.strategy import wiring

    blocked = gated.filter(pc.invert(gated["allowed"]))
    _count_blocked(run, blocked)
    run.world.blocked(blocked)
    writer.write_blocked(blocked, run)
    allowed = gated.filter(gated["allowed"]).sort_by(
        [("planned_at_utc", "ascending"), ("contact_id", "ascending")]
    )
    if allowed.num_rows == 0:
        return
    flags = flags_table(run.world.people, run.world.flags)
    profile = wiring.load_profile(config.profile)
    times = allowed["planned_at_utc"].combine_chunks()
    slots = pc.unique(times).to_pylist()
    assert len(slots) <= 24 * 60 * 4, "a few thousand slots a day at most"
    outcomes = []
    flag_count = len(run.world.flag_events)
    for slot in slots:
        if len(run.world.flag_events) != flag_count:  # an opt-out in an earlier slot
            flags = flags_table(run.world.people, run.world.flags)
            flag_count = len(run.world.flag_events)
        rows = allowed.filter(pc.equal(allowed["planned_at_utc"], pa.scalar(slot, times.type)))
        plan = rows.drop_columns(["allowed", "blocked_rule"])
        rechecked = wiring.gate(plan, run.history, flags, profile)
        stopped = rechecked.filter(pc.invert(rechecked["allowed"]))
        if stopped.num_rows:
            _count_blocked(run, stopped)
            run.world.blocked(stopped)
            writer.write_blocked(stopped, run)
        sent = rechecked.filter(rechecked["allowed"])
        if sent.num_rows == 0:
            continue
        local, hour = local_times(sent["planned_at_utc"], sent["time_zone"])
        batch = run.world.contacts_reach(sent, state, day, hour)
        made = wiring.outcomes_table(batch)
        wiring.record(run.history, made)
        outcomes.append(made)
        writer.write_sent(batch, local, run)
    if outcomes:
        folder = snapshot_path(run.snapshots, day) / "outcomes"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(outcomes), folder / "part-0.parquet")


def _count_blocked(run: StrategyRun, blocked: pa.Table) -> None:
    if blocked.num_rows == 0:
        return
    pairs = pa.table({"arm": blocked["arm"], "rule": blocked["blocked_rule"]})
    grouped = pairs.group_by(["arm", "rule"]).aggregate([([], "count_all")])
    for row in grouped.to_pylist():
        arm = run.blocked_by_arm.setdefault(str(row["arm"]), {})
        arm[str(row["rule"])] = arm.get(str(row["rule"]), 0) + int(row["count_all"])


def _prune(snapshots: Path, keep: date | None) -> None:
    """Drop the account states of old snapshots (decisions, contacts and outcomes stay)."""
    for folder in snapshots.glob("as_of=*"):
        day = date.fromisoformat(folder.name.removeprefix("as_of="))
        if keep is None or day < keep - timedelta(days=1):
            for sub in ("accounts", "transitions"):
                shutil.rmtree(folder / sub, ignore_errors=True)


# -- outputs ---------------------------------------------------------------------------------------


class _CsvWriter:
    """contacts.csv, written day by day (one row per attempted contact)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pacsv.CSVWriter | None = None
        self.rows = 0

    def _write(self, table: pa.Table) -> None:
        table = table.select(list(CONTACT_COLUMNS))
        if self.writer is None:
            self.writer = pacsv.CSVWriter(self.path, table.schema)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def write_blocked(self, blocked: pa.Table, run: StrategyRun) -> None:
        if blocked.num_rows == 0:
            return
        local, _ = local_times(blocked["planned_at_utc"], blocked["time_zone"])
        n = blocked.num_rows
        false = pa.array(np.zeros(n, dtype=np.bool_))
        self._write(
            pa.table(
                {
                    **_ids(blocked),
                    "attempted_at": local,
                    "connected": false,
                    "right_party": false,
                    "outcome": pa.array(["blocked"] * n, pa.string()),
                    "blocked_rule": blocked["blocked_rule"],
                    "strategy": pa.array([run.label] * n, pa.string()),
                    "arm": blocked["arm"],
                    "recipient_kind": blocked["recipient_kind"],
                    **_plan_facts(blocked),
                }
            )
        )

    def write_sent(self, batch: Any, local: pa.Array, run: StrategyRun) -> None:
        sent = batch.contacts
        n = sent.num_rows
        self._write(
            pa.table(
                {
                    **_ids(sent),
                    "attempted_at": local,
                    "connected": pa.array(batch.connected),
                    "right_party": pa.array(batch.right_party),
                    "outcome": pa.array(batch.outcome, pa.string()),
                    "blocked_rule": pa.array([""] * n, pa.string()),
                    "strategy": pa.array([run.label] * n, pa.string()),
                    "arm": sent["arm"],
                    "recipient_kind": sent["recipient_kind"],
                    **_plan_facts(sent),
                }
            )
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        elif not self.path.exists():
            self.path.write_text(",".join(f'"{c}"' for c in CONTACT_COLUMNS) + "\n")


def _ids(table: pa.Table) -> dict[str, Any]:
    return {name: table[name] for name in ("contact_id", "customer_id", "account_id", "channel",
                                           "to_address")}  # fmt: skip


def _plan_facts(table: pa.Table) -> dict[str, Any]:
    """What the checker needs of the plan: tone, template and the account's DPD that day
    (empty when the row has none, e.g. a notice built outside the decisions)."""
    n = table.num_rows
    facts: dict[str, Any] = {}
    for name in ("tone", "template"):
        column = table[name] if name in table.column_names else pa.nulls(n, pa.string())
        facts[name] = pc.fill_null(pc.cast(column, pa.string()), "")
    dpd = table["dpd"] if "dpd" in table.column_names else pa.nulls(n, pa.int32())
    facts["dpd"] = pc.cast(dpd, pa.int32())
    return facts


def _write_people(
    out: Path,
    people: People,
    flags0: dict[str, np.ndarray],
    events: list[tuple[str, list[tuple[str, str, str]]]],
    start: date,
) -> None:
    pacsv.write_csv(
        pa.table(
            {
                "customer_id": people.customer_id,
                "time_zone": people.time_zone,
                "language": people.language,
            }
        ),
        out / "customers.csv",
    )
    rows: list[tuple[str, str, str, str]] = []
    ids = people.customer_id.to_pylist()
    for name in FLAG_COLUMNS:
        for i in np.flatnonzero(flags0[name]):
            rows.append(("", ids[int(i)], name, f"{start - timedelta(days=1)}T00:00:00+00:00"))
    for label, flag_events in events:
        rows += [(label, cid, flag, at) for at, cid, flag in flag_events]
    pacsv.write_csv(
        pa.table(
            {
                "strategy": [r[0] for r in rows],
                "customer_id": [r[1] for r in rows],
                "flag": [r[2] for r in rows],
                "from_utc": [r[3] for r in rows],
            },
            schema=pa.schema(
                [(n, pa.string()) for n in ("strategy", "customer_id", "flag", "from_utc")]
            ),
        ),
        out / "flags.csv",
    )


def _arm_names(run: StrategyRun) -> list[str]:
    return sorted(set(run.arms.tolist()), key=lambda a: (a != "champion", a == "holdout", a))


def _strategy_summary(run: StrategyRun, people: People, config: SimConfig) -> dict[str, Any]:
    end_bucket = run.end_bucket
    t = run.world.tally
    arms: dict[str, Any] = {}
    account_arm = run.arms[people.account_customer]
    for arm in _arm_names(run):
        c = run.arms == arm
        a = account_arm == arm
        rolls = sm.roll_rates(
            [b for b, keep in zip(run.start_bucket, a, strict=True) if keep],
            [b for b, keep in zip(end_bucket, a, strict=True) if keep],
        )
        arms[arm] = {
            "customers": int(c.sum()),
            "accounts": int(a.sum()),
            "recovered_fen": sm.total_ci(t.recovered_fen[c]),
            "recovered_per_customer_fen": sm.mean_ci(t.recovered_fen[c]),
            "paid_on_due_date_fen": sm.total_ci(t.paid_on_due_fen[c]),
            "cost_fen": sm.total_ci(t.cost_fen[c]),
            "contacts": sm.total_ci(t.contacts[c]),
            "contacts_per_customer": sm.mean_ci(t.contacts[c]),
            "connected": int(t.connected[c].sum()),
            "right_party": int(t.right_party[c].sum()),
            "promises": sm.total_ci(t.promises[c]),
            "blocked_attempts": sm.total_ci(t.blocked[c]),
            "blocked_by_rule": dict(sorted(run.blocked_by_arm.get(arm, {}).items())),
            "complaints": sm.total_ci(t.complaints[c]),
            "complaints_per_1000_customers": _scaled(sm.mean_ci(t.complaints[c]), 1000),
            "attrition": sm.share_ci(int(t.left[c].sum()), int(c.sum())),
            "recovered_per_contact_fen": sm.ratio_ci(t.recovered_fen[c], t.contacts[c]),
            "net_fen": sm.total_ci(t.recovered_fen[c] - t.cost_fen[c]),
            "roll_rates": rolls,
        }
    every = np.ones(people.n_customers, dtype=np.bool_)
    blocked_total: dict[str, int] = {}
    for rules in run.blocked_by_arm.values():
        for rule, n in rules.items():
            blocked_total[rule] = blocked_total.get(rule, 0) + n
    return {
        "name": run.spec.name,
        "version": getattr(run.spec, "strategy_version", ""),
        "arms": arms,
        "all": {
            "recovered_fen": sm.total_ci(t.recovered_fen[every]),
            "cost_fen": sm.total_ci(t.cost_fen),
            "contacts": sm.total_ci(t.contacts),
            "promises": sm.total_ci(t.promises),
            "complaints": sm.total_ci(t.complaints),
            "complaints_per_1000_customers": _scaled(sm.mean_ci(t.complaints), 1000),
            "attrition": sm.share_ci(int(t.left.sum()), people.n_customers),
            "recovered_per_contact_fen": sm.ratio_ci(t.recovered_fen, t.contacts),
            "blocked_by_rule": dict(sorted(blocked_total.items())),
        },
    }


def _scaled(ci: dict[str, float], factor: float) -> dict[str, float]:
    return {k: v * factor for k, v in ci.items()}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _write_logs(run: StrategyRun, people: People, folder: Path) -> None:
    """Per customer: arm, segment at first decision, contacts by channel, recovered, cost.

    The optimiser reads only these logs (what was done and what came of it), never the
    response model's parameters.
    """
    folder.mkdir(parents=True, exist_ok=True)
    t = run.world.tally
    table = pa.table(
        {
            "customer_id": people.customer_id,
            "arm": pa.array(run.arms.tolist(), pa.string()),
            "recovered_fen": pa.array(t.recovered_fen),
            "paid_on_due_date_fen": pa.array(t.paid_on_due_fen),
            "cost_fen": pa.array(t.cost_fen),
            "contacts": pa.array(t.contacts),
            "complaints": pa.array(t.complaints),
            "promises": pa.array(t.promises),
            "left": pa.array(t.left),
        }
    )
    pq.write_table(table, folder / "customers.parquet")
    pq.write_table(run.world.payments_log(), folder / "payments.parquet")
    decisions = sorted(run.snapshots.glob("as_of=*/decisions/part-0.parquet"))
    contacts = sorted(run.snapshots.glob("as_of=*/contacts/part-0.parquet"))
    outcomes = sorted(run.snapshots.glob("as_of=*/outcomes/part-0.parquet"))
    for name, files in (("decisions", decisions), ("contacts", contacts), ("outcomes", outcomes)):
        if files:
            _concat_files(files, folder / f"{name}.parquet")


def _concat_files(files: list[Path], out: Path) -> None:
    """The files' rows in one Parquet file, one file in memory at a time (a 90-day run's
    gate rows do not fit at once); columns missing from a file are null."""
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="default")
    with pq.ParquetWriter(out, schema) as writer:
        for f in files:
            table = pq.read_table(f)
            for name in schema.names:
                if name not in table.column_names:
                    table = table.append_column(
                        name, pa.nulls(table.num_rows, schema.field(name).type)
                    )
            writer.write_table(table.select(schema.names).cast(schema))


def demo_strategies(
    out: Path,
    *,
    accounts: int = 2000,
    days: int = 10,
    seed: int = 1,
    profile: str = "cn",
    strategy: str | Path = "default",
    vs: str | Path | None = "aggressive",
) -> dict[str, Any]:
    """For ``overdue demo``: run the strategies over the demo's days on a small twin book.

    Returns, per strategy and arm: contacts, blocked attempts by rule, promises, recovered
    (fen) and complaints, plus where ``summary.json`` and ``contacts.csv`` are.
    """
    config = SimConfig(
        accounts=accounts, days=days, strategy=strategy, vs=vs, profile=profile, seed=seed, out=out
    )
    summary = simulate(config)
    result: dict[str, Any] = {
        "summary": str(Path(out) / "summary.json"),
        "contacts_csv": str(Path(out) / "contacts.csv"),
        "first_day": summary["config"]["first_day"],
        "last_day": summary["config"]["last_day"],
        "strategies": {},
    }
    for label, data in summary["strategies"].items():
        arms = {
            arm: {
                "customers": a["customers"],
                "contacts": int(a["contacts"]["value"]),
                "blocked_by_rule": a["blocked_by_rule"],
                "promises": int(a["promises"]["value"]),
                "recovered_fen": int(a["recovered_fen"]["value"]),
                "complaints": int(a["complaints"]["value"]),
            }
            for arm, a in data["arms"].items()
        }
        result["strategies"][label] = {"name": data["name"], "arms": arms}
    return result
