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
from importlib import resources

from babel import Locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
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
        return format_decimal(value, locale=BABEL_LOCALE[self.code])

    def percent(self, value: float | None) -> str:
        if value is None:
            return "–"
        return format_percent(value, format="#,##0.0%", locale=BABEL_LOCALE[self.code])

    def money(self, amount_fen: int | None) -> str:
        if amount_fen is None:
            return "–"
        return format_currency(Decimal(amount_fen) / 100, "CNY", locale=BABEL_LOCALE[self.code])

    def date(self, value: date | str | None) -> str:
        if value is None or value == "":
            return "–"
        day = date.fromisoformat(value) if isinstance(value, str) else value
        if isinstance(day, datetime):
            day = day.date()
        return format_date(day, format="medium", locale=BABEL_LOCALE[self.code])

    def datetime(self, value: datetime | None, time_zone: str | None = None) -> str:
        """An instant in ``time_zone`` (IANA name; default UTC)."""
        if value is None:
            return "–"
        zone = get_timezone(time_zone or "UTC")
        return format_datetime(value, format="medium", tzinfo=zone, locale=BABEL_LOCALE[self.code])
