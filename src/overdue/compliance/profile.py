"""Compliance profiles: the rules of domain.md §4 as packaged, validated TOML (``cn``, ``us``).

A limit left out of a profile does not apply in it (``us`` has no daily connected-call cap,
``cn`` no seven-in-seven). :func:`load_profile` takes a shipped name or a file path; errors name
the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from overdue.errors import BadInput
from overdue.strategy.spec import Channel

SHIPPED_PROFILES: Final = ("cn", "us")
_LOCAL_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class ProfileError(BadInput):
    """A compliance profile that cannot be used (one line: file, key, reason)."""


class Profile(BaseModel):
    """A validated compliance profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr
    description: StrictStr = ""
    currency: Literal["CNY", "USD"]
    quiet_start: StrictStr
    quiet_end: StrictStr
    quiet_channels: list[Channel]
    call_channels: list[Channel]
    max_connected_calls_per_day: StrictInt | None = Field(default=None, ge=0)
    max_unanswered_per_number_per_day: StrictInt | None = Field(default=None, ge=0)
    max_call_attempts_per_debt: StrictInt | None = Field(default=None, ge=0)
    call_window_days: StrictInt = Field(default=7, ge=1, le=31)
    post_conversation_days: StrictInt | None = Field(default=None, ge=1, le=31)
    third_party_locate_after_days: StrictInt = Field(default=7, ge=0, le=365)
    max_third_party_per_day: StrictInt = Field(default=1, ge=0)
    opt_out_channels: list[Channel] = Field(default_factory=list)
    record_retention_years: StrictInt = Field(ge=1)
    validation_notice_days: StrictInt | None = Field(default=None, ge=0, le=30)

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _LOCAL_TIME.fullmatch(value):
            raise ValueError(f"{value!r} is not HH:MM (24 h)")
        return value

    @property
    def quiet_start_minute(self) -> int:
        return int(self.quiet_start[:2]) * 60 + int(self.quiet_start[3:])

    @property
    def quiet_end_minute(self) -> int:
        return int(self.quiet_end[:2]) * 60 + int(self.quiet_end[3:])

    def is_quiet(self, minute: int) -> bool:
        """Whether a local minute of the day falls in the quiet window [start, end)."""
        start, end = self.quiet_start_minute, self.quiet_end_minute
        if start <= end:
            return start <= minute < end
        return minute >= start or minute < end


def load_profile(file_or_name: str | Path) -> Profile:
    """A shipped profile by name (``cn``, ``us``) or a TOML file."""
    name = str(file_or_name)
    if name in SHIPPED_PROFILES:
        text = resources.files("overdue.compliance").joinpath(f"{name}.toml").read_text("utf-8")
        source = f"{name}.toml (shipped)"
    else:
        try:
            text = Path(file_or_name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"{name}: cannot read ({exc})") from None
        source = name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{source}: not valid TOML ({exc})") from None
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ProfileError(f"{source}: {key}: {first['msg']}") from None
