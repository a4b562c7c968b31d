"""The messages the web pages show, extracted from the templates and the web modules with Babel.

``python -m overdue.web.catalog`` adds every new message to both .po catalogs (English: the
message itself; Chinese: left empty to be translated) and lists the ones still untranslated.
The i18n test fails while any message lacks a translation.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

WEB_DIR = Path(str(resources.files("overdue.web")))
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"trimmed": "true"}}
KEYWORDS = {"_": None, "gettext": None, "N_": None}


def po_path(babel_locale: str) -> Path:
    return WEB_DIR / "locales" / babel_locale / "LC_MESSAGES" / "messages.po"


def source_messages() -> dict[str, str]:
    """msgid → first place it is used (file:line)."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(WEB_DIR),
        method_map=METHODS,
        options_map=OPTIONS,
        keywords=KEYWORDS,
        comment_tags=(),
        strip_comment_tags=True,
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, f"{filename}:{lineno}")
    return found


def load(babel_locale: str) -> Catalog:
    with po_path(babel_locale).open("rb") as handle:
        return read_po(handle, locale=babel_locale)


def update() -> list[str]:
    """Add new messages to both catalogs; return the Chinese ones without a translation."""
    messages = source_messages()
    untranslated = []
    for babel_locale in ("en", "zh_CN"):
        catalog = load(babel_locale)
        for msgid, where in messages.items():
            if msgid not in catalog:
                catalog.add(msgid, msgid if babel_locale == "en" else "", locations=[(where, 0)])
        if babel_locale == "zh_CN":
            untranslated = [m for m in messages if not catalog[m].string]
        with po_path(babel_locale).open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, no_location=True)
    return untranslated


if __name__ == "__main__":
    for message in update():
        print(message)
