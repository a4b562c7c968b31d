"""Every visible string of the web pages exists in en and zh-CN; numbers, money and dates are
formatted by Babel for the page's language; the switch (?lang= and cookie) changes the page."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from web_support import client, sign_in

from overdue.web import catalog
from overdue.web.i18n import BABEL_LOCALE, CATALOGS, Lang, normalise

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_message_in_the_sources_is_translated_in_both_catalogs() -> None:
    messages = catalog.source_messages()
    assert len(messages) > 150, "the extraction found the templates and modules"
    en, zh = catalog.load("en"), catalog.load("zh_CN")
    for msgid, where in messages.items():
        assert msgid in en and en[msgid].string, f"{where}: {msgid!r} missing from en"
        assert msgid in zh and zh[msgid].string, f"{where}: {msgid!r} missing from zh_CN"
        assert CJK.search(zh[msgid].string), f"{where}: {msgid!r} is not translated to Chinese"


def test_placeholders_survive_translation() -> None:
    zh = catalog.load("zh_CN")
    for message in zh:
        if message.id and isinstance(message.id, str):
            assert set(re.findall(r"\{\w+\}", message.id)) == set(
                re.findall(r"\{\w+\}", message.string)
            ), message.id


def test_the_compiled_catalogs_translate() -> None:
    assert CATALOGS["zh-CN"].gettext("Sign in") == "登录"
    assert CATALOGS["en"].gettext("Sign in") == "Sign in"


def test_babel_formats_by_language() -> None:
    en, zh = Lang("en"), Lang("zh-CN")
    assert en.money(123_456_789) == "CN¥1,234,567.89"
    assert zh.money(123_456_789) == "¥1,234,567.89"
    assert en.date(date(2024, 6, 30)) == "Jun 30, 2024"
    assert zh.date(date(2024, 6, 30)) == "2024年6月30日"
    assert en.number(1234567) == "1,234,567" and en.percent(0.256) == "25.6%"
    assert normalise("zh_cn") == "zh-CN" and normalise("en-US") == "en" and normalise("fr") is None


def test_the_language_switch_uses_the_query_then_the_cookie(app: FastAPI) -> None:
    c = client(app)
    assert "Sign in" in c.get("/login").text
    chinese = c.get("/login?lang=zh-CN")
    assert "登录" in chinese.text and '<html lang="zh-CN">' in chinese.text
    assert "登录" in c.get("/login").text, "the cookie keeps the choice"
    sign_in(c, "manager")
    assert "经理看板" in c.get("/dashboard").text
    assert "Manager dashboard" in c.get("/dashboard?lang=en").text


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["en", "zh-CN"]))
def test_fast_money_format_is_babels(amount_fen: int, code: str) -> None:
    expected = format_currency(Decimal(amount_fen) / 100, "CNY", locale=BABEL_LOCALE[code])
    assert Lang(code).money(amount_fen) == expected


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["en", "zh-CN"]))
def test_fast_integer_format_is_babels(value: int, code: str) -> None:
    assert Lang(code).number(value) == format_decimal(value, locale=BABEL_LOCALE[code])
