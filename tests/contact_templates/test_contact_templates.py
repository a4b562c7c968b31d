"""Templates: shipped ones pass the wording check; bad wording is refused; amounts are exact."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.compliance.wording import (
    check_template,
    source_problems,
    text_problems,
    third_party_problems,
)
from overdue.config.policies import build_policy, load_preset
from overdue.contact.render import (
    money_text,
    penalty_growth_fen,
    render,
    render_planned,
    sample_contexts,
)
from overdue.domain.engine import Account, DueItem, account_state
from overdue.domain.money import to_fen
from overdue.domain.policy import Product

ROOT = Path(__file__).resolve().parents[2] / "src" / "overdue" / "contact" / "templates"


def shipped(language: str) -> set[str]:
    return {p.name.removesuffix(".txt.j2") for p in (ROOT / language).glob("[a-z]*.txt.j2")}


def test_both_languages_have_the_same_templates() -> None:
    assert shipped("en") == shipped("zh-CN")
    assert len(shipped("en")) >= 20


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_shipped_template_passes_the_wording_check(language: str) -> None:
    for name in sorted(shipped(language)):
        recipient = "third_party" if name.endswith("_locate") else "debtor"
        assert check_template(name, language, recipient) == [], name


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Pay today or we will tell your employer.", "threat"),
        ("不还钱就让你坐牢。", "threat"),
        ("We will send your 通讯录 the details.", "threat"),
        ("Listen, you deadbeat, pay now.", "insult"),
        ("你这个老赖。", "insult"),
        ("This is the police: pay your debt.", "impersonation"),
        ("法院通知：请立即还款。", "impersonation"),
        ("公安机关提醒您还款。", "impersonation"),
        ("You are now on our blacklist.", "false_claim"),
        ("您已被列入黑名单。", "false_claim"),
        ("This will give you a criminal record.", "false_claim"),
    ],
)
def test_bad_wording_is_refused(text: str, category: str) -> None:
    assert any(p.startswith(category) for p in text_problems(text)), text_problems(text)


def test_good_wording_passes() -> None:
    for text in (
        "Hi Li, your bill of ¥1,234.50 is due on 2024-07-10. Reply STOP to opt out.",
        "您的账单将于7月10日到期，如需分期可在App申请。回复TD退订",
        "We may take the steps the law allows, which can include civil proceedings.",
    ):
        assert text_problems(text) == []


def test_hard_coded_sums_and_third_party_disclosure_are_refused() -> None:
    assert source_problems("You owe ¥5000 now.", third_party=False)
    assert source_problems("您欠款5000元。", third_party=False)
    assert source_problems("You owe {{ amount_due }}.", third_party=False) == []
    assert source_problems("Tell {{ name }} they owe {{ amount_due }}", third_party=True)
    assert third_party_problems("Please tell him his loan is overdue.")
    assert third_party_problems("请转告他尽快还款。")
    assert third_party_problems("We are trying to reach Li Hua; please ask him to call us.") == []


def test_strict_undefined_refuses_a_missing_variable() -> None:
    context = dict(sample_contexts()[0])
    del context["amount_due"]
    with pytest.raises(jinja2.UndefinedError):
        render("sms_friendly", "en", context)


def test_messages_carry_education_opt_out_and_subject() -> None:
    context = {**sample_contexts()[0], "market": "cn", "dpd": 12, "name": "李华"}
    context["penalty_in_7_days"] = "¥16.62"
    zh = render("sms_firm", "zh-CN", context).body
    assert "李华" in zh and "¥1,234.50" in zh and "¥16.62" in zh and "征信" in zh
    assert "分期" in zh and zh.rstrip().endswith("回复TD退订")
    en = render("email_formal", "en", {**context, "market": "us", "name": "Ann"})
    assert en.subject and "credit report" in en.body and "reply STOP" in en.body
    assert "installment plan" in en.body and "Ann" in en.body
    robot = render("voice_robot_friendly", "en", {**context, "market": "us"}).body
    assert "credit report" in robot


def test_third_party_messages_never_mention_the_debt() -> None:
    for language in ("en", "zh-CN"):
        for context in sample_contexts():
            for name in ("sms_locate", "voice_agent_locate"):
                body = render(name, language, context).body
                assert "1,234.50" not in body and "16.62" not in body
                assert third_party_problems(body) == []


def test_render_planned_uses_the_row() -> None:
    row = {
        "template": "push_friendly",
        "language": "en",
        "customer_name": "Ann",
        "currency": "USD",
        "dpd": 3,
        "due_date": date(2024, 7, 4),
        "amount_due_fen": 1050,
        "penalty_fen": 3,
        "penalty_in_7_days_fen": 10,
        "channel": "push",
    }
    subject, body = render_planned(row)
    assert subject is None
    assert "Ann" in body and "$10.50" in body and "$0.03" in body and "$0.10" in body


def test_money_text_is_exact() -> None:
    assert money_text(123456789, "CNY") == "¥1,234,567.89"
    assert money_text(5, "USD") == "$0.05"
    assert money_text(0, "CNY") == "¥0.00"


@settings(max_examples=60, deadline=None)
@given(
    principal=st.integers(1, 5_000_000),
    interest=st.integers(0, 50_000),
    days_from_due=st.integers(-10, 60),
    preset=st.sampled_from(["huabei-like", "jiebei-like"]),
)
def test_penalty_in_7_days_agrees_with_the_engine(
    principal: int, interest: int, days_from_due: int, preset: str
) -> None:
    product = Product.REVOLVING if preset == "huabei-like" else Product.INSTALLMENT
    policy = build_policy(product, load_preset(preset))
    as_of = date(2024, 5, 20)
    due = as_of - timedelta(days=days_from_due)
    item = DueItem("i1", due, Decimal(principal) / 100, Decimal(interest) / 100)
    account = Account("A1", product, (item,))
    now = account_state(account, policy, as_of)
    later = account_state(account, policy, as_of + timedelta(days=7))
    unpaid = {"due_date": due, "unpaid_principal_fen": principal, "unpaid_interest_fen": interest}
    growth = penalty_growth_fen([unpaid], policy, as_of)
    assert growth == to_fen(later.penalty_accrued) - to_fen(now.penalty_accrued)


SELF_URL = "https://pay.example.com/self/QzE.20240714.abc"


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_emails_and_texts_to_the_debtor_carry_their_self_service_page_when_given(
    language: str,
) -> None:
    names = sorted(n for n in shipped(language)
                   if n.startswith(("email_", "sms_")) and not n.endswith("_locate"))  # fmt: skip
    assert len(names) == 6
    for name in names:
        row = {"template": name, "language": language, "channel": name.split("_")[0], "dpd": 5,
               "amount_due_fen": 123450, "penalty_fen": 1230, "currency": "CNY"}  # fmt: skip
        _, with_link = render_planned(row, SELF_URL)
        _, without = render_planned(row)
        assert SELF_URL in with_link and "/self/" not in without, name
        opt_out = "STOP" if language == "en" else "退订"
        assert opt_out in with_link.splitlines()[-1] and opt_out in without.splitlines()[-1]


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_messages_to_third_parties_never_carry_the_debtors_page(language: str) -> None:
    for name in sorted(n for n in shipped(language) if n.endswith("_locate")):
        row = {"template": name, "language": language, "channel": name.split("_")[0], "dpd": 40,
               "amount_due_fen": 123450, "penalty_fen": 1230, "currency": "CNY"}  # fmt: skip
        assert SELF_URL not in render_planned(row, SELF_URL)[1], name
