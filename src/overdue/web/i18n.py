"""Every visible string in zh-CN and en: Babel .po catalogs compiled at import, Babel formatting.

Message ids are the English text; the ``en`` catalog maps them to themselves (so a missing id is
caught by the catalog test), ``zh_CN`` translates them. Numbers, money (integer fen) and dates are
formatted with Babel for the request's language.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from babel import Locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import (
    format_currency,
    format_decimal,
    format_percent,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)
from babel.support import Translations

LANGUAGES = ("en", "zh-CN")
BABEL_LOCALE = {"en": "en", "zh-CN": "zh_CN"}
LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文"}


def _load(babel_locale: str) -> Translations:
    po_path = resources.files("overdue.web") / "locales" / babel_locale / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=babel_locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


CATALOGS: dict[str, Translations] = {lang: _load(BABEL_LOCALE[lang]) for lang in LANGUAGES}


def normalise(language: str | None) -> str | None:
    """``zh``, ``zh-cn``, ``zh_CN`` → ``zh-CN``; ``en-US`` → ``en``; anything else → None."""
    if not language:
        return None
    text = language.strip().replace("_", "-").lower()
    if text.startswith("zh"):
        return "zh-CN"
    if text.startswith("en"):
        return "en"
    return None


@dataclass(frozen=True)
class Lang:
    """The request's language: translation and formatting."""

    code: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(BABEL_LOCALE[self.code])

    def gettext(self, message: str) -> str:
        return CATALOGS[self.code].gettext(message)

    def number(self, value: int | float | Decimal | None) -> str:
        if value is None:
            return "–"
        if isinstance(value, int):
            return grouped(value, money_style(self.code).group)
        return format_decimal(value, locale=babel_locale(self.code))

    def percent(self, value: float | None) -> str:
        if value is None:
            return "–"
        return format_percent(value, format="#,##0.0%", locale=babel_locale(self.code))

    def money(self, amount_fen: int | None) -> str:
        """Integer fen as yuan in the language's currency format (same text as Babel's)."""
        if amount_fen is None:
            return "–"
        return money_style(self.code).format(amount_fen)

    def date(self, value: date | str | None) -> str:
        if value is None or value == "":
            return "–"
        day = date.fromisoformat(value) if isinstance(value, str) else value
        if isinstance(day, datetime):
            day = day.date()
        return format_date(day, format="medium", locale=babel_locale(self.code))

    def datetime(self, value: datetime | None, time_zone: str | None = None) -> str:
        """An instant in ``time_zone`` (IANA name; default UTC)."""
        if value is None:
            return "–"
        zone = get_timezone(time_zone or "UTC")
        return format_datetime(value, format="medium", tzinfo=zone, locale=babel_locale(self.code))


@lru_cache(maxsize=8)
def babel_locale(code: str) -> Locale:
    return Locale.parse(BABEL_LOCALE[code])


def grouped(value: int, group: str) -> str:
    return f"{value:,}".replace(",", group)


@dataclass(frozen=True)
class MoneyStyle:
    """The CNY currency format of one language, read from Babel once (Babel's own formatting
    takes ~0.1-0.3 ms a call, too slow for a 50-row queue page): prefix, suffix and symbols."""

    prefix: str
    suffix: str
    group: str
    decimal: str
    minus: str

    def format(self, amount_fen: int) -> str:
        yuan, fen = divmod(abs(amount_fen), 100)
        sign = self.minus if amount_fen < 0 else ""
        return f"{sign}{self.prefix}{grouped(yuan, self.group)}{self.decimal}{fen:02d}{self.suffix}"


@lru_cache(maxsize=8)
def money_style(code: str) -> MoneyStyle:
    locale = babel_locale(code)
    sample = format_currency(Decimal("1234567.89"), "CNY", locale=locale)
    prefix, rest = sample.split("1", 1)
    suffix = rest.rsplit("9", 1)[1]
    group, decimal = get_group_symbol(locale=locale), get_decimal_symbol(locale=locale)
    style = MoneyStyle(prefix, suffix, group, decimal, get_minus_sign_symbol(locale=locale))
    assert style.format(123456789) == sample, f"{code}: {style} does not reproduce {sample!r}"
    return style
