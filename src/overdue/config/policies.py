"""Policy files: the settings of domain.md §2 as versioned, validated TOML.

A policy file is flat TOML (see ``docs/configuration.md``); every key is optional. Three presets
ship inside the package (``overdue/presets/*.toml``). A case file may carry a ``"policy"`` object
whose keys override the policy file, validated by the same model. :func:`build_policy` merges them
and resolves the domain :class:`~overdue.domain.policy.Policy` with its documented defaults.

Decimals are taken from their text, never through binary floats: money keys (``tolerance``,
``late_fee``) refuse floats and want strings (``"0.05"``) or integers; rate keys prefer strings and
accept floats converted by their shortest repr (``Decimal(repr(x))``), so ``0.0005`` means exactly
``Decimal("0.0005")``. Every error is a :class:`PolicyConfigError`: one line naming the file (or
source), the key, the bad value and the reason.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from overdue.domain.money import CENT
from overdue.domain.policy import (
    COMPONENTS,
    Component,
    PenaltyBase,
    Policy,
    PolicyError,
    Product,
    check_allocation_order,
    resolve_policy,
)

MAX_POLICY_FILE_BYTES: Final = 1_000_000
MAX_REPORTED_ERRORS: Final = 5
MAX_VALUE_CHARS: Final = 80
MAX_MONEY_DIGITS_BEFORE_POINT: Final = 15
PRESET_PACKAGE: Final = "overdue"
PRESET_DIR: Final = "presets"

_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_PRESET_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


class PolicyConfigError(ValueError):
    """A policy file, preset or override that cannot be used; the message is one line.

    ``source`` names the file (or preset / case file) and ``keys`` the offending settings.
    """

    def __init__(self, source: str, detail: str, keys: tuple[str, ...] = ()) -> None:
        message = " ".join(f"{source}: {detail}".split())
        super().__init__(message)
        self.source = source
        self.keys = keys


# --- decimal parsing -----------------------------------------------------------------------------


def _decimal_from(value: object, *, allow_float: bool) -> Decimal:
    """The exact decimal a TOML/JSON value stands for; floats only when ``allow_float``."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not allow_float:
            raise ValueError(
                'must be a decimal string such as "0.05", not a float '
                "(binary floats cannot carry money exactly)"
            )
        number = Decimal(repr(value))
    elif isinstance(value, str):
        if _DECIMAL_TEXT.fullmatch(value.strip()) is None:
            raise ValueError('is not a decimal number (write it like "0.0005")')
        number = Decimal(value.strip())
    else:
        raise ValueError('must be a decimal string such as "0.05"')
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number.copy_abs() if number.is_zero() else number


def _parse_money(value: object) -> Decimal:
    number = _decimal_from(value, allow_float=False)
    if number < 0:
        raise ValueError("must be ≥ 0")
    if number.adjusted() >= MAX_MONEY_DIGITS_BEFORE_POINT:
        raise ValueError("is too large for an amount")
    if number != number.quantize(CENT):
        raise ValueError("must have at most 2 decimals")
    return number.quantize(CENT)


def _parse_rate(value: object) -> Decimal:
    number = _decimal_from(value, allow_float=True)
    if number < 0:
        raise ValueError("must be ≥ 0")
    return number


def _parse_penalty_rate(value: object) -> Decimal:
    number = _parse_rate(value)
    if number >= 1:
        raise ValueError('must be < 1: it is a fraction per day ("0.0005" is 0.05 %/day)')
    return number


def _parse_allocation_order(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(c, str) for c in value):
        raise ValueError(f"must be a list, a permutation of {', '.join(COMPONENTS)}")
    order = tuple(value)
    try:
        check_allocation_order(order)
    except PolicyError as exc:
        raise ValueError(exc.reason) from None
    return order


Money = Annotated[Decimal, BeforeValidator(_parse_money)]
Rate = Annotated[Decimal, BeforeValidator(_parse_rate)]
PenaltyRate = Annotated[Decimal, BeforeValidator(_parse_penalty_rate)]
AllocationOrder = Annotated[tuple[Component, ...], BeforeValidator(_parse_allocation_order)]


# --- the model -----------------------------------------------------------------------------------


class PolicySettings(BaseModel):
    """The keys a policy file (or a case file's ``"policy"`` object) may set; all optional.

    Unset keys take the domain defaults in :func:`build_policy`. ``source`` tells where the
    settings were read from, for error messages and audit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr | None = None
    version: StrictStr | None = None
    product: Literal["revolving", "installment"] | None = None
    description: StrictStr | None = None
    grace_days: StrictInt | None = Field(default=None, ge=0)
    tolerance: Money | None = None
    penalty_daily_rate: PenaltyRate | None = None
    contract_daily_rate: Rate | None = None
    penalty_multiplier: Rate | None = None
    penalty_base: Literal["principal", "principal_and_interest"] | None = None
    allocation_order: AllocationOrder | None = None
    write_off_dpd: StrictInt | None = Field(default=None, ge=1)
    accrue_after_write_off: StrictBool | None = None
    late_fee: Money | None = None

    _source: str | None = PrivateAttr(default=None)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null; leave the key out to use the default")
        return value

    @property
    def source(self) -> str | None:
        """The file, preset or case file these settings came from (``None`` if built in code)."""
        return self._source

    def set_values(self) -> dict[str, Any]:
        """The keys this file or override actually sets, with their validated values."""
        return {key: getattr(self, key) for key in self.model_fields_set}


POLICY_KEYS: Final = tuple(PolicySettings.model_fields)
# Keys handed to ``resolve_policy``; ``product`` and ``description`` are not among them.
_RESOLVE_KEYS: Final = frozenset(POLICY_KEYS) - {"product", "description"}


# --- error messages ------------------------------------------------------------------------------


def _show(value: object) -> str:
    text = str(value) if isinstance(value, Decimal) else repr(value)
    text = " ".join(text.split())
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 3] + "..."
    return text


def _closest_key(key: str) -> str:
    matches = difflib.get_close_matches(key, POLICY_KEYS, n=1, cutoff=0.6)
    return (
        f"; did you mean {matches[0]!r}?" if matches else f"; known keys: {', '.join(POLICY_KEYS)}"
    )


_REASONS: Final = {
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "greater_than_equal": "must be ≥ {ge}",
}


def _reason(error: ErrorDetails) -> str:
    template = _REASONS.get(error["type"])
    if template is not None:
        return template.format(**error.get("ctx", {}))
    message = error["msg"]
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    return message.replace("Input should be", "must be", 1)


def _describe_one(error: ErrorDetails) -> str:
    key = ".".join(str(part) for part in error["loc"])
    value = _show(error["input"])
    if error["type"] == "extra_forbidden":
        hint = _closest_key(key)
        if isinstance(error["input"], Mapping):
            hint += " (policy keys belong at the top level, not inside a table)"
        return f"{key} = {value}: unknown key {key!r}{hint}"
    return f"{key} = {value}: {_reason(error)}"


def _describe(exc: ValidationError) -> tuple[str, tuple[str, ...]]:
    errors = exc.errors(include_url=False)
    parts = [_describe_one(error) for error in errors[:MAX_REPORTED_ERRORS]]
    if len(errors) > MAX_REPORTED_ERRORS:
        parts.append(f"and {len(errors) - MAX_REPORTED_ERRORS} more")
    keys = tuple(str(error["loc"][0]) for error in errors if error["loc"])
    return "; ".join(parts), keys


def _validate(data: object, source: str) -> PolicySettings:
    if not isinstance(data, Mapping):
        raise PolicyConfigError(source, f"{_show(data)}: must be a table (object) of policy keys")
    try:
        settings = PolicySettings.model_validate(dict(data))
    except ValidationError as exc:
        detail, keys = _describe(exc)
        raise PolicyConfigError(source, detail, keys) from None
    settings._source = source
    return settings


def _toml_error(exc: tomllib.TOMLDecodeError, text: str) -> str:
    message = str(exc)
    position = _TOML_POSITION.search(message)
    if position is not None:
        line, column = position.groups()
        return f"line {line}, column {column}: TOML syntax error: {message[: position.start()]}"
    if "(at end of document)" in message:
        line = text.count("\n") + 1
        return f"line {line} (end of file): TOML syntax error: {message.split(' (at')[0]}"
    return f"TOML syntax error: {message}"


# --- loading -------------------------------------------------------------------------------------


def _parse_toml(raw: bytes, source: str) -> PolicySettings:
    if len(raw) > MAX_POLICY_FILE_BYTES:
        raise PolicyConfigError(source, f"{len(raw)} bytes: too large for a policy file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyConfigError(source, f"byte {exc.start}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyConfigError(source, _toml_error(exc, text)) from None
    return _validate(data, source)


def load_policy_file(path: str | Path) -> PolicySettings:
    """Read and validate one policy TOML file; errors name ``path`` as given."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise PolicyConfigError(source, "no such policy file") from None
    except OSError as exc:
        raise PolicyConfigError(source, f"cannot read the policy file: {exc.strerror}") from None
    return _parse_toml(raw, source)


def preset_names() -> tuple[str, ...]:
    """The names of the presets shipped in ``overdue/presets`` (file names without ``.toml``)."""
    folder = resources.files(PRESET_PACKAGE).joinpath(PRESET_DIR)
    names = [item.name.removesuffix(".toml") for item in folder.iterdir() if item.is_file()]
    return tuple(sorted(name for name in names if _PRESET_NAME.fullmatch(name)))


def load_preset(name: str) -> PolicySettings:
    """Load a shipped preset by name, e.g. ``"huabei-like"``."""
    known = preset_names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise PolicyConfigError(
            f"policy {name!r}",
            f"not a policy file (those end in .toml) nor a preset; presets: {', '.join(known)}"
            + hint,
        )
    resource = resources.files(PRESET_PACKAGE).joinpath(PRESET_DIR, f"{name}.toml")
    return _parse_toml(resource.read_bytes(), f"preset {name!r}")


def load_policy_source(file_or_preset: str | Path | None) -> PolicySettings:
    """A ``--policy`` value: a file if it exists or ends in ``.toml``, else a preset name.

    ``None`` gives empty settings (all domain defaults).
    """
    if file_or_preset is None:
        return PolicySettings()
    if isinstance(file_or_preset, Path):
        return load_policy_file(file_or_preset)
    if file_or_preset.endswith(".toml") or Path(file_or_preset).exists():
        return load_policy_file(file_or_preset)
    return load_preset(file_or_preset)


# --- building the domain policy ------------------------------------------------------------------

# Which keys a resolved value depends on, to name the right source in an error.
_DEPENDS_ON: Final = {
    "penalty_daily_rate": ("penalty_daily_rate", "contract_daily_rate", "penalty_multiplier"),
}


def _resolve_kwargs(values: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = {key: value for key, value in values.items() if key in _RESOLVE_KEYS}
    if "penalty_base" in kwargs:
        kwargs["penalty_base"] = PenaltyBase(kwargs["penalty_base"])
    return kwargs


def build_policy(
    product: Product,
    base: PolicySettings,
    overrides: Mapping[str, object] | None = None,
    *,
    source: str = "<policy>",
) -> Policy:
    """Merge ``overrides`` (a case file's ``"policy"`` object) over ``base``; resolve the policy.

    ``source`` names where the overrides come from. A key set in ``overrides`` wins over the same
    key in ``base``; keys set in neither take the domain defaults (see ``resolve_policy``).
    """
    base_source = base.source or source
    override_settings = PolicySettings() if overrides is None else _validate(overrides, source)
    origin = {key: base_source for key in base.model_fields_set}
    origin.update({key: source for key in override_settings.model_fields_set})
    values = {**base.set_values(), **override_settings.set_values()}

    def where(key: str) -> str:
        for related in _DEPENDS_ON.get(key, (key,)):
            if related in origin:
                return origin[related]
        return base_source

    declared = values.get("product")
    if declared is not None and declared != product.value:
        raise PolicyConfigError(
            where("product"),
            f"product = {declared!r}: this policy is for {declared} accounts, "
            f"but the account is {product.value}",
            ("product",),
        )
    try:
        return resolve_policy(product, **_resolve_kwargs(values))
    except PolicyError as exc:
        shown = "is not set" if exc.value is None else f"= {_show(exc.value)}"
        raise PolicyConfigError(
            where(exc.key), f"{exc.key} {shown}: {exc.reason}", (exc.key,)
        ) from None
