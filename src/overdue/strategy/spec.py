"""Strategy specs: versioned YAML files, validated with pydantic, with errors that name the line.

A spec says, for every account every day, which segment it is in (conditions on status, DPD,
buckets, scores, balance, product, flags, language), which treatment path the segment follows
(steps at day offsets from the due date, negative before it), who is held out or in which
challenger arm, which event triggers add contacts, and how much each channel can do a day.
``docs/strategy/specs.md`` is the reference. :func:`load_spec` reads a file (or a shipped spec by
name), validates it, checks that every template it names exists and passes the wording check,
and records ``name``, ``version`` and ``content_hash`` (sha256 of the normalised content).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from overdue.domain.channels import CHANNELS
from overdue.errors import BadInput

MAX_SPEC_FILE_BYTES: Final = 1_000_000
MAX_SEGMENTS: Final = 200
MAX_STEPS_PER_PATH: Final = 100
MAX_TIMES_PER_STEP: Final = 24
MAX_REPORTED_ERRORS: Final = 5
SHIPPED_SPECS: Final = ("default", "aggressive")

Channel = Literal[
    "push", "sms", "email", "voice_robot", "voice_agent", "letter", "field_visit", "agency", "legal"
]
Tone = Literal["friendly", "firm", "formal"]
TONES: Final[tuple[str, ...]] = ("friendly", "firm", "formal")
Recipient = Literal["debtor", "third_party"]
StopRule = Literal["paid", "promise_pending", "dispute", "hardship"]
EventKind = Literal["autodebit_failed", "promise_broken"]
FLAG_NAMES: Final[tuple[str, ...]] = (
    "do_not_contact",
    "dispute",
    "hardship",
    "vulnerable",
    "deceased",
    "bankruptcy",
    "cease_communication",
)
Language = Literal["zh-CN", "en"]
Status = Literal["current", "in_grace", "overdue", "charged_off", "settled"]
Product = Literal["revolving", "installment"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_LOCAL_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
Name = Annotated[StrictStr, Field(pattern=_NAME.pattern)]


class SpecError(BadInput):
    """A strategy spec that cannot be used; the message names the file, line and field."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        shown = list(problems[:MAX_REPORTED_ERRORS])
        more = len(problems) - len(shown)
        tail = f" (+{more} more)" if more > 0 else ""
        super().__init__(f"{source}: " + "; ".join(shown) + tail)
        self.source = source
        self.problems = tuple(problems)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntRange(_Model):
    """Inclusive bounds; either may be left out."""

    min: StrictInt | None = None
    max: StrictInt | None = None

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} exceeds max {self.max}")
        return self


class ScoreRange(_Model):
    """Inclusive bounds on a probability; ``if_missing`` says whether an unscored account matches."""

    min: float | None = Field(default=None, ge=0.0, le=1.0)
    max: float | None = Field(default=None, ge=0.0, le=1.0)
    if_missing: StrictBool = False

    @model_validator(mode="after")
    def _ordered(self) -> ScoreRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} exceeds max {self.max}")
        return self


class Conditions(_Model):
    """All given conditions must hold (an empty block matches every account).

    ``balance_fen`` is the amount the account owes now: the total overdue once past due, else
    the amount of the next due item. ``days_to_due`` is next due date − as_of (≥ 0).
    """

    status: list[Status] | None = None
    dpd: IntRange | None = None
    days_to_due: IntRange | None = None
    bucket_cn: list[StrictStr] | None = None
    bucket_us: list[StrictStr] | None = None
    early_warning: ScoreRange | None = None
    collection_score: ScoreRange | None = None
    balance_fen: IntRange | None = None
    product: list[Product] | None = None
    flags: dict[StrictStr, StrictBool] | None = None
    language: list[Language] | None = None

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: dict[str, bool] | None) -> dict[str, bool] | None:
        known = FLAG_NAMES + tuple(f"opt_out_{c}" for c in CHANNELS)
        for name in value or {}:
            if name not in known:
                raise ValueError(f"unknown flag {name!r}; known: {', '.join(known)}")
        return value


def _default_stops() -> list[StopRule]:
    return ["paid", "dispute"]


class Step(_Model):
    """One contact of a path, on day ``day`` relative to the due date (DPD once past due).

    With ``repeat_every_days`` the step fires again every so many days until ``until_day``.
    ``at`` lists the local send times (the customer's own time zone), one contact each.
    """

    id: Name
    day: StrictInt = Field(ge=-30, le=3650)
    repeat_every_days: StrictInt | None = Field(default=None, ge=1, le=365)
    until_day: StrictInt | None = Field(default=None, le=3650)
    channel: Channel
    tone: Tone = "friendly"
    template: Name | None = None
    at: list[StrictStr] = Field(default_factory=lambda: ["10:00"], min_length=1)
    recipient: Recipient = "debtor"
    when: Conditions | None = None
    stop: list[StopRule] = Field(default_factory=lambda: _default_stops())
    priority: StrictInt | None = None

    @field_validator("at")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_TIMES_PER_STEP:
            raise ValueError(f"at most {MAX_TIMES_PER_STEP} send times a step")
        for text in value:
            if not _LOCAL_TIME.fullmatch(text):
                raise ValueError(f"send time {text!r} is not HH:MM (24 h)")
        if len(set(value)) != len(value):
            raise ValueError("send times repeat")
        return value

    @model_validator(mode="after")
    def _repeat(self) -> Step:
        if self.until_day is not None and self.repeat_every_days is None:
            raise ValueError("until_day needs repeat_every_days")
        if self.until_day is not None and self.until_day < self.day:
            raise ValueError(f"until_day {self.until_day} is before day {self.day}")
        return self

    @property
    def template_name(self) -> str:
        """The template file stem: given, or ``<channel>_<tone>`` (``<channel>_locate`` for
        a third party)."""
        if self.template is not None:
            return self.template
        if self.recipient == "third_party":
            return f"{self.channel}_locate"
        return f"{self.channel}_{self.tone}"

    def send_minutes(self) -> list[int]:
        return [int(t[:2]) * 60 + int(t[3:]) for t in self.at]


class TreatmentPath(_Model):
    """A treatment path: steps at day offsets from the due date."""

    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS_PER_PATH)

    @field_validator("steps")
    @classmethod
    def _unique_ids(cls, value: list[Step]) -> list[Step]:
        ids = [s.id for s in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"step ids repeat: {', '.join(dupes)}")
        return value


class Segment(_Model):
    """Accounts that meet ``when`` follow ``path``; the first matching segment by priority wins
    (priority 1 is served first, ties in file order)."""

    name: Name
    priority: StrictInt = Field(ge=1, le=1000)
    when: Conditions = Field(default_factory=Conditions)
    path: Name | None = None  # None: the segment is recorded but gets no contact


class Trigger(_Model):
    """An event (a failed auto-debit, a broken promise) starts extra steps; ``day`` of each step
    counts from the event's date (0 = the same day)."""

    name: Name
    event: EventKind
    priority: StrictInt = Field(ge=1, le=1000)
    when: Conditions = Field(default_factory=Conditions)
    path: Name


class Arm(_Model):
    """A challenger: a share of the customers outside the hold-out, with its own paths for some
    segments (``paths`` maps a segment name to the path this arm uses instead)."""

    name: Name
    share: float = Field(gt=0.0, lt=1.0)
    paths: dict[StrictStr, Name] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in ("champion", "holdout"):
            raise ValueError(f"{value!r} is reserved")
        return value


class Experiment(_Model):
    """Arms by hashing the customer id with ``salt``; ``holdout_share`` of the customers get no
    contact at all (their decisions are still recorded)."""

    salt: StrictStr = Field(min_length=1, max_length=64)
    holdout_share: float = Field(default=0.05, ge=0.0, lt=0.5)
    challengers: list[Arm] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _shares(self) -> Experiment:
        total = sum(a.share for a in self.challengers)
        if total >= 1.0:
            raise ValueError(f"challenger shares sum to {total}; the champion needs the rest")
        names = [a.name for a in self.challengers]
        if len(set(names)) != len(names):
            raise ValueError("challenger names repeat")
        return self

    def arm_shares(self) -> list[tuple[str, float]]:
        """(name, share of the non-hold-out customers), the champion first."""
        rest = 1.0 - sum(a.share for a in self.challengers)
        return [("champion", rest)] + [(a.name, a.share) for a in self.challengers]


class Capacity(_Model):
    """A channel's daily capacity: ``per_day`` contacts, or agent hours × contacts an hour, or
    robot lines × calls a line a day (the smallest given limit applies)."""

    per_day: StrictInt | None = Field(default=None, ge=0)
    agent_hours: float | None = Field(default=None, ge=0.0)
    contacts_per_hour: float | None = Field(default=None, gt=0.0)
    lines: StrictInt | None = Field(default=None, ge=0)
    calls_per_line: StrictInt | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> Capacity:
        if (self.agent_hours is None) != (self.contacts_per_hour is None):
            raise ValueError("agent_hours and contacts_per_hour go together")
        if (self.lines is None) != (self.calls_per_line is None):
            raise ValueError("lines and calls_per_line go together")
        if self.per_day is None and self.agent_hours is None and self.lines is None:
            raise ValueError(
                "give per_day, agent_hours + contacts_per_hour or lines + calls_per_line"
            )
        return self

    def daily_limit(self) -> int:
        limits = []
        if self.per_day is not None:
            limits.append(self.per_day)
        if self.agent_hours is not None and self.contacts_per_hour is not None:
            limits.append(math.floor(self.agent_hours * self.contacts_per_hour))
        if self.lines is not None and self.calls_per_line is not None:
            limits.append(self.lines * self.calls_per_line)
        return min(limits)


class StrategySpec(_Model):
    """A validated strategy spec (see the module docstring)."""

    name: Name
    version: StrictStr = Field(min_length=1, max_length=32)
    description: StrictStr = ""
    segments: list[Segment] = Field(min_length=1, max_length=MAX_SEGMENTS)
    paths: dict[Name, TreatmentPath] = Field(default_factory=dict)
    triggers: list[Trigger] = Field(default_factory=list)
    experiment: Experiment
    capacities: dict[Channel, Capacity] = Field(default_factory=dict)
    content_hash: StrictStr = ""  # set by the loader, never read from the file

    @model_validator(mode="after")
    def _references(self) -> StrategySpec:
        names = [s.name for s in self.segments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"segment names repeat: {', '.join(dupes)}")
        wanted = [(f"segment {s.name}", s.path) for s in self.segments if s.path is not None]
        wanted += [(f"trigger {t.name}", t.path) for t in self.triggers]
        for arm in self.experiment.challengers:
            for seg, path in arm.paths.items():
                if seg not in names:
                    raise ValueError(f"challenger {arm.name}: no segment named {seg!r}")
                wanted.append((f"challenger {arm.name}", path))
        for who, path in wanted:
            if path not in self.paths:
                raise ValueError(f"{who}: no path named {path!r}")
        return self

    @property
    def strategy_version(self) -> str:
        """What every decision records: ``<version>+<first 12 hex of the content hash>``."""
        return f"{self.version}+{self.content_hash[:12]}"

    def ordered_segments(self) -> list[Segment]:
        return sorted(self.segments, key=lambda s: s.priority)  # stable: ties keep file order

    def path_for(self, segment: str, arm: str) -> str | None:
        for challenger in self.experiment.challengers:
            if challenger.name == arm and segment in challenger.paths:
                return challenger.paths[segment]
        for seg in self.segments:
            if seg.name == segment:
                return seg.path
        return None

    def templates_used(self) -> set[tuple[str, str]]:
        """(template name, recipient kind) of every step."""
        return {
            (step.template_name, step.recipient)
            for path in self.paths.values()
            for step in path.steps
        }

    def daily_limits(self) -> dict[str, int]:
        return {channel: cap.daily_limit() for channel, cap in self.capacities.items()}


# --- loading, with line numbers --------------------------------------------------------------


def content_hash(data: object) -> str:
    """sha256 of the normalised content: the parsed YAML as canonical JSON (sorted keys), so
    comments, key order and layout do not change it but every value does."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _node_at(root: yaml.Node, loc: Sequence[int | str]) -> tuple[yaml.Node, bool]:
    """The deepest node on the path ``loc``; the flag says whether the whole path was found."""
    node = root
    for key in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                    child = value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key >= 0:
            child = node.value[key] if key < len(node.value) else None
        if child is None:
            return node, False
        node = child
    return node, True


def _key_node(root: yaml.Node, loc: Sequence[int | str]) -> yaml.Node | None:
    """The key node of the last element of ``loc`` (for a field that should not be there)."""
    if not loc:
        return None
    parent, found = _node_at(root, loc[:-1])
    if not found or not isinstance(parent, yaml.MappingNode):
        return None
    for key_node, _ in parent.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(loc[-1]):
            return key_node
    return None


def line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the YAML element that ``loc`` (a pydantic error location) points at:
    the value when it exists, else the key, else the nearest enclosing element."""
    if root is None:
        return None
    loc = [part for part in loc if not _is_union_tag(part)]
    node, found = _node_at(root, loc)
    if not found:
        key = _key_node(root, loc)
        if key is not None:
            node = key
    return int(node.start_mark.line) + 1


def _is_union_tag(part: int | str) -> bool:
    # pydantic inserts the tag of a union member / literal into the location; YAML has no such key.
    return isinstance(part, str) and ("[" in part or part in ("function-after", "function-before"))


def _describe(exc: ValidationError, root: yaml.Node | None) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        where = ".".join(str(p) for p in loc if not _is_union_tag(p)) or "(top)"
        line = line_of(root, loc)
        prefix = f"line {line}: " if line is not None else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{prefix}{where}: {message}")
    return problems


def parse_spec(
    text: str,
    source: str,
    template_check: Callable[[StrategySpec], Sequence[str]] | None = None,
) -> StrategySpec:
    """Validate the YAML ``text``; every problem names ``source`` and the line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(source, [f"{line}not valid YAML ({problem})"]) from None
    if not isinstance(data, Mapping):
        raise SpecError(source, ["line 1: a strategy spec is a mapping (name:, version:, ...)"])
    if "content_hash" in data:
        at = line_of(root, ["content_hash"])
        raise SpecError(source, [f"line {at}: content_hash is computed, not written"])
    digest = content_hash(data)
    try:
        spec = StrategySpec.model_validate({**data, "content_hash": digest})
    except ValidationError as exc:
        raise SpecError(source, _describe(exc, root)) from None
    if template_check is not None:
        problems = list(template_check(spec))
        if problems:
            raise SpecError(source, problems)
    return spec


def _default_template_check(spec: StrategySpec) -> Sequence[str]:
    from overdue.compliance.wording import check_spec_templates

    return check_spec_templates(spec)


def load_spec(
    file_or_name: str | Path,
    *,
    check_templates: bool = True,
) -> StrategySpec:
    """Load a spec file, or a shipped spec by name (``default``, ``aggressive``).

    Raises :class:`SpecError` (a ``BadInput``) naming the file, line and field. With
    ``check_templates`` every template the spec names must exist in zh-CN and en and pass the
    wording check (``overdue.compliance.wording``).
    """
    text, source = _read(file_or_name)
    check = _default_template_check if check_templates else None
    return parse_spec(text, source, check)


def _read(file_or_name: str | Path) -> tuple[str, str]:
    name = str(file_or_name)
    if name in SHIPPED_SPECS:
        ref = resources.files("overdue.strategy").joinpath(f"{name}.yaml")
        return ref.read_text(encoding="utf-8"), f"{name}.yaml (shipped)"
    path = Path(file_or_name)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(str(path), [f"cannot read ({exc.strerror or exc})"]) from None
    if len(raw) > MAX_SPEC_FILE_BYTES:
        raise SpecError(str(path), [f"larger than {MAX_SPEC_FILE_BYTES} bytes"])
    try:
        return raw.decode("utf-8"), str(path)
    except UnicodeDecodeError as exc:
        raise SpecError(str(path), [f"not UTF-8 (byte {exc.start})"]) from None


def spec_summary(spec: StrategySpec) -> dict[str, Any]:
    """A small JSON-able description (name, version, hash, segments, arms, limits)."""
    return {
        "name": spec.name,
        "version": spec.version,
        "content_hash": spec.content_hash,
        "segments": [s.name for s in spec.ordered_segments()],
        "arms": spec.experiment.arm_shares(),
        "holdout_share": spec.experiment.holdout_share,
        "daily_limits": spec.daily_limits(),
    }
