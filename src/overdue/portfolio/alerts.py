"""Threshold alerts on the monitoring measures, configured in TOML (examples/alerts/default.toml).

A config is a list of ``[[rule]]`` tables::

    [[rule]]
    name = "M1 -> M2 roll rate"      # optional; defaults to the measure and its parameters
    measure = "roll_rate"             # any name of MEASURES
    from = "M1"                       # the measure's parameters (see MEASURES)
    to = "M2"
    op = ">"                          # >, >=, <, <=
    threshold = 0.25
    basis = "count"                   # or "balance"; default: the measure's first basis
    severity = "warning"              # info, warning, critical

``evaluate(config, monitoring)`` returns one ``Alert`` per rule and date (or cohort, for vintage and
FPD measures) whose value satisfies ``value op threshold``; a date where the measure is undefined
(a zero denominator) raises nothing. Every config error names the file, the rule, the key and the
value.
"""

from __future__ import annotations

import operator
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from overdue.domain.buckets import CN_BUCKETS, US_BUCKETS
from overdue.portfolio.monitor_history import MonitoringError
from overdue.portfolio.monitoring import SCHEMES, Monitoring

MAX_RULES = 500
SEVERITIES = ("info", "warning", "critical")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
RULE_KEYS = ("name", "measure", "op", "threshold", "basis", "severity")

Value = float | int | None
Series = list[tuple[str, Value]]
AMOUNT_MEASURES = ("accounts", "total_overdue_fen", "charge_offs", "charged_off", "recovered_fen")
MeasureFn = Callable[["Monitoring", Mapping[str, object], str], Series]


class AlertConfigError(MonitoringError):
    """A config the user must fix: names the file, the rule, the key and the value."""


@dataclass(frozen=True)
class Param:
    """A measure parameter: its name, the values it may take (None: any whole number >= 0)."""

    name: str
    choices: tuple[str, ...] | None = None
    default: object = None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Measure:
    name: str
    bases: tuple[str, ...]
    params: tuple[Param, ...]
    by: str  # "date" or "cohort"
    description: str
    series: MeasureFn
    needs_book: bool = False

    def unit(self, basis: str) -> str:
        """ "rate" (a fraction), "count" or "fen" (an amount), for display."""
        if self.name in AMOUNT_MEASURES:
            return "count" if basis == "count" else "fen"
        return "rate"


@dataclass(frozen=True)
class Rule:
    name: str
    measure: str
    params: dict[str, object]
    op: str
    threshold: float
    basis: str
    severity: str
    index: int = 0

    def fires(self, value: float | int) -> bool:
        return OPS[self.op](value, self.threshold)


@dataclass(frozen=True)
class AlertConfig:
    source: str
    rules: tuple[Rule, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Alert:
    rule: str
    measure: str
    params: dict[str, object]
    basis: str
    at: str
    value: float | int
    op: str
    threshold: float
    severity: str

    def to_json_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


# -- the measures an alert can watch -------------------------------------------------------------


def _dates(m: Monitoring, start: int = 0) -> list[tuple[int, str]]:
    return list(enumerate(m.dates))[start:]


def _roll(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
    return [(at, m.roll.rate(basis, str(p["from"]), str(p["to"]), at)) for _, at in _dates(m, 1)]


def _cure(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
    return [(at, m.roll.cure_rate(basis, str(p["from"]), at)) for _, at in _dates(m, 1)]


def _flow(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
    return [(at, m.flows.rate(basis, str(p["from"]), at)) for _, at in _dates(m, 1)]


def _net_flow(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
    return [(at, m.flows.net_flow(basis, at)) for _, at in _dates(m, 1)]


def _bucket_share(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
    dist = m.distribution[str(p["scheme"])]
    bucket = str(p["bucket"])
    chosen = {bucket}
    if p.get("or_worse") is True:
        chosen = set(dist.buckets[dist.buckets.index(bucket) :])
    return [(at, dist.share(basis, i, chosen)) for i, at in _dates(m)]


def _day(count_attr: str, balance_attr: str | None = None) -> MeasureFn:
    """A per-date figure of ``DayFigures``: ``count_attr`` by count, ``balance_attr`` by balance."""

    def series(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
        name = balance_attr if basis == "balance" and balance_attr else count_attr
        out: Series = []
        for day in m.days:
            value = getattr(day, name)
            assert value is None or isinstance(value, int | float)
            out.append((day.as_of, value))
        return out

    return series


def _delinquent(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
    return [(d.as_of, d.delinquent_rate(basis)) for d in m.days]


def _recovery(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
    return [(d.as_of, d.recovery_rate) for d in m.days]


def _entry(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
    return [(e.as_of, e.rate(basis)) for e in m.entry]


def _fpd(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
    assert m.vintage is not None
    return [(c.cohort, c.rate(basis)) for c in m.vintage.fpd]


def _vintage(kind: str) -> MeasureFn:
    def series(m: Monitoring, p: Mapping[str, object], basis: str) -> Series:
        v = m.vintage
        assert v is not None
        dpd, mob = int(str(p["dpd"])), int(str(p["mob"]))
        if dpd not in v.vintage.thresholds:
            raise MonitoringError(
                f"dpd = {dpd} is not one of the vintage thresholds {list(v.vintage.thresholds)}"
            )
        out: Series = []
        for row in v.vintage.by_cohort:
            if row.mob == mob and row.cohort is not None:
                out.append((row.cohort, v.share(kind, basis, dpd, row)))
        return out

    return series


BOTH = ("count", "balance")
AMOUNT = ("balance",)
FROM = Param("from", CN_BUCKETS)
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("roll_rate", BOTH, (FROM, Param("to", CN_BUCKETS)), "date",
                "share of bucket `from` at t-1 that is in bucket `to` at t", _roll),
        Measure("cure_rate", BOTH, (Param("from", CN_BUCKETS[1:]),), "date",
                "share of bucket `from` at t-1 that is M0 at t", _cure),
        Measure("flow_rate", BOTH, (Param("from", CN_BUCKETS[:-1]), Param("to", CN_BUCKETS[1:])),
                "date", "bucket `to` at t / bucket `from` at t-1 (`to` = the next bucket)", _flow),
        Measure("net_flow_to_loss", BOTH, (), "date",
                "product of the flow rates M0->M1 ... M6->M7 of the period", _net_flow),
        Measure("bucket_share", BOTH,
                (Param("bucket", CN_BUCKETS + US_BUCKETS), Param("scheme", tuple(SCHEMES), "cn"),
                 Param("or_worse", ("false", "true"), False)), "date",
                "share of the accounts (balance) in `bucket` (and worse with or_worse = true)",
                _bucket_share),
        Measure("delinquent_rate", BOTH, (), "date",
                "overdue + charged-off accounts / accounts not settled (by balance: their "
                "balance / all balance)", _delinquent),
        Measure("entry_rate", BOTH, (), "date",
                "items due in the period that went overdue / items due (by amount)", _entry),
        Measure("accounts", ("count",), (), "date", "accounts in the snapshot",
                _day("accounts")),
        Measure("total_overdue_fen", AMOUNT, (), "date", "total overdue amount, fen",
                _day("total_overdue_fen")),
        Measure("charge_offs", BOTH, (), "date",
                "accounts charged off in the period (by balance: their balance, fen)",
                _day("new_charge_offs", "new_charge_off_fen")),
        Measure("charged_off", BOTH, (), "date",
                "charged-off accounts at t (by balance: their balance, fen)",
                _day("charged_off", "charged_off_balance_fen")),
        Measure("recovered_fen", AMOUNT, (), "date",
                "recovered after charge-off during the period, fen", _day("recovered_fen")),
        Measure("recovery_rate", AMOUNT, (), "date",
                "recovered after charge-off / (recovered + still owed), charged-off accounts",
                _recovery),
        Measure("fpd_rate", BOTH, (), "cohort",
                "first-payment default rate of the cohort (by original amount)", _fpd, True),
        Measure("vintage_ever", BOTH, (Param("dpd", None), Param("mob", None)), "cohort",
                "share of the cohort ever `dpd`+ days past due by month on book `mob`",
                _vintage("ever"), True),
        Measure("vintage_current", BOTH, (Param("dpd", None), Param("mob", None)), "cohort",
                "share of the cohort `dpd`+ days past due at month on book `mob`",
                _vintage("current"), True),
    )
}  # fmt: skip


# -- reading a config ----------------------------------------------------------------------------


def load_config(path: Path) -> AlertConfig:
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AlertConfigError(f"{source}: no such alerts file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AlertConfigError(f"{source}: cannot read the alerts file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise AlertConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_config(data, source)


def parse_config(data: Mapping[str, object], source: str) -> AlertConfig:
    extra = [k for k in data if k != "rule"]
    if extra:
        raise AlertConfigError(
            f"{source}: key {extra[0]!r} is not allowed at the top level (use [[rule]] tables)"
        )
    raw = data.get("rule", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise AlertConfigError(f"{source}: 'rule' must be a list of [[rule]] tables")
    if len(raw) > MAX_RULES:
        raise AlertConfigError(f"{source}: {len(raw)} rules is over the limit {MAX_RULES}")
    rules = tuple(_rule(r, source, i) for i, r in enumerate(raw, start=1))
    names = [r.name for r in rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise AlertConfigError(f"{source}: rule[{i + 1}].name = {name!r} is used twice")
    return AlertConfig(source, rules)


def _rule(raw: Mapping[str, object], source: str, index: int) -> Rule:
    def bad(key: str, reason: str) -> AlertConfigError:
        shown = "is missing" if key not in raw else f"= {raw[key]!r}"
        return AlertConfigError(f"{source}: rule[{index}].{key} {shown}: {reason}")

    measure_name = raw.get("measure")
    if not isinstance(measure_name, str) or measure_name not in MEASURES:
        raise bad("measure", f"must be one of {', '.join(MEASURES)}")
    measure = MEASURES[measure_name]
    allowed = set(RULE_KEYS) | {p.name for p in measure.params}
    for key in raw:
        if key not in allowed:
            raise bad(key, f"is not a key of measure {measure_name!r} (keys: "
                      f"{', '.join(sorted(allowed))})")  # fmt: skip
    params = {p.name: _param(p, raw, bad) for p in measure.params}
    if measure_name == "flow_rate":
        step = CN_BUCKETS.index(str(params["from"]))
        if params["to"] != CN_BUCKETS[step + 1]:
            raise bad("to", f"a flow rate goes to the next bucket ({CN_BUCKETS[step + 1]})")
    if measure_name == "bucket_share" and params["bucket"] not in SCHEMES[str(params["scheme"])]:
        raise bad("bucket", f"must be one of {', '.join(SCHEMES[str(params['scheme'])])}")
    op = raw.get("op")
    if op not in OPS:
        raise bad("op", f"must be one of {' '.join(OPS)}")
    threshold = raw.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise bad("threshold", "must be a number")
    basis = raw.get("basis", measure.bases[0])
    if basis not in measure.bases:
        raise bad("basis", f"must be one of {', '.join(measure.bases)} for {measure_name!r}")
    severity = raw.get("severity", "warning")
    if severity not in SEVERITIES:
        raise bad("severity", f"must be one of {', '.join(SEVERITIES)}")
    name = raw.get("name", _default_name(measure_name, params, str(basis)))
    if not isinstance(name, str) or not name.strip():
        raise bad("name", "must be a non-empty string")
    return Rule(name, measure_name, params, str(op), threshold, str(basis), str(severity), index)


def _param(
    param: Param, raw: Mapping[str, object], bad: Callable[[str, str], AlertConfigError]
) -> object:
    if param.name not in raw:
        if param.required:
            raise bad(param.name, f"is required by this measure ({param.name})")
        return param.default
    value = raw[param.name]
    if param.choices is None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(param.name, "must be a whole number >= 0")
        return value
    if param.choices == ("false", "true"):
        if not isinstance(value, bool):
            raise bad(param.name, "must be true or false")
        return value
    if not isinstance(value, str) or value not in param.choices:
        raise bad(param.name, f"must be one of {', '.join(param.choices)}")
    return value


def _default_name(measure: str, params: Mapping[str, object], basis: str) -> str:
    shown = " ".join(f"{k}={v}" for k, v in params.items() if v is not None and v is not False)
    return " ".join(part for part in (measure, shown, f"({basis})") if part)


# -- evaluation ----------------------------------------------------------------------------------


def evaluate(config: AlertConfig, monitoring: Monitoring) -> list[Alert]:
    """The alerts raised, ordered by date (or cohort), then by rule order in the file."""
    alerts: list[tuple[str, int, Alert]] = []
    for rule in config.rules:
        measure = MEASURES[rule.measure]
        if measure.needs_book and monitoring.vintage is None:
            raise AlertConfigError(
                f"{config.source}: rule[{rule.index}].measure = {rule.measure!r}: needs the book "
                "(pass --book DATA_DIR)"
            )
        try:
            series = measure.series(monitoring, rule.params, rule.basis)
        except MonitoringError as exc:
            raise AlertConfigError(f"{config.source}: rule[{rule.index}]: {exc}") from None
        for at, value in series:
            if value is not None and rule.fires(value):
                alert = Alert(
                    rule.name, rule.measure, rule.params, rule.basis, at, value, rule.op,
                    rule.threshold, rule.severity,
                )  # fmt: skip
                alerts.append((at, rule.index, alert))
    alerts.sort(key=lambda item: (item[0], item[1]))
    return [a for _, _, a in alerts]
