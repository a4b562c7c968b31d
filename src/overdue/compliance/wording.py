"""Wording checks on message templates, run when a strategy loads.

Refused, in zh-CN and en (a lexicon of words and patterns, matched case-insensitively on the
rendered text of every branch, see :func:`overdue.contact.render.sample_contexts`):

- **threat** — arrest, jail, violence, shaming, telling family / employer / contacts;
- **insult** — deadbeat, liar, 老赖, 骗子 ...;
- **impersonation** — police, courts, prosecutors or other authorities as if they were writing
  (公安, 法院, 检察院 ...);
- **false claim** — fake "blacklists" (黑名单), criminal records, permanent ruin; and amounts
  written into the template (``¥5000``) instead of the account's own figures (inflated sums);
- **third-party disclosure** — any mention of a debt, a payment or an amount in a message to a
  third party (templates ``*_locate``);
- **missing opt-out** — every e-mail and text to a debtor must carry one (STOP / 退订).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from overdue.strategy.spec import StrategySpec

LEXICON: Final[dict[str, tuple[str, ...]]] = {
    "threat": (
        r"\barrest",
        r"\bjail\b",
        r"\bprison\b",
        r"\bhurt\b",
        r"\bharm you",
        r"\bviolence",
        r"\bor else\b",
        r"\bregret\b",
        r"\bexpose\b",
        r"\bshame\b",
        r"\bhumiliat",
        r"\btell your (family|employer|boss|friends|colleagues|contacts)",
        r"\bcontact your (family|employer|boss|friends|colleagues|contacts)",
        r"\b(visit|come to) your (home|work|office|family)",
        "坐牢",
        "拘留",
        "抓捕",
        "逮捕",
        "后果自负",
        "让你好看",
        "走着瞧",
        "曝光",
        "通讯录",
        "上门找你",
        "找你家人",
        "通知你的(家人|单位|同事|朋友|领导)",
        "联系你的(家人|单位|同事|朋友|领导)",
    ),
    "insult": (
        r"\bdeadbeat",
        r"\bloser\b",
        r"\bscum",
        r"\bliar\b",
        r"\bidiot",
        r"\bstupid",
        r"\bshameless",
        r"\bthief\b",
        r"\bcheat(er)?\b",
        r"\bworthless",
        "老赖",
        "骗子",
        "无耻",
        "不要脸",
        "垃圾",
        "废物",
        "赖账",
        "人渣",
    ),
    "impersonation": (
        r"\bpolice\b",
        r"\bcourt\b",
        r"\bjudge\b",
        r"\bsheriff",
        r"\bprosecutor",
        r"\bfbi\b",
        r"\blaw enforcement",
        r"\bgovernment agency",
        r"\battorney general",
        r"\bofficer\b",
        r"\bwarrant\b",
        "公安",
        "警察",
        "派出所",
        "法院",
        "检察院",
        "法官",
        "执法",
        "政府部门",
        "律师函",
    ),
    "false_claim": (
        r"black\s*-?\s*list",
        r"\bcriminal (record|charge|case)",
        r"\bpermanent(ly)? (ruin|record)",
        r"\bnever (get|obtain) (a )?(loan|credit)",
        r"\bseize\b",
        r"\bgarnish",
        "黑名单",
        "失信被执行人",
        "刑事",
        "永久",
        "终身",
        "坐实",
        "查封",
        "冻结",
    ),
}
THIRD_PARTY_WORDS: Final = (
    r"\bdebt",
    r"\bowe",
    r"\boverdue",
    r"\bpay",
    r"\bloan",
    r"\bcollect",
    r"\barrear",
    r"\bbalance",
    r"\bcredit",
    r"\brepay",
    r"\bpenalt",
    r"\bbill",
    "欠",
    "债",
    "逾期",
    "还款",
    "贷款",
    "催收",
    "借款",
    "账单",
    "罚息",
    "额度",
    "征信",
)
THIRD_PARTY_VARIABLES: Final = (
    "amount_due",
    "penalty_so_far",
    "penalty_in_7_days",
    "dpd",
    "due_date",
)
HARD_CODED_AMOUNT: Final = re.compile(
    r"[¥$￥]\s*\d|\d[\d,.]*\s*(元|块钱|yuan|dollars?|rmb|usd|cny)\b", re.IGNORECASE
)
OPT_OUT: Final = {
    "en": re.compile(r"\bSTOP\b|unsubscribe", re.IGNORECASE),
    "zh-CN": re.compile("退订"),
}
OPT_OUT_CHANNELS: Final = ("sms", "email")

_COMPILED: Final = {
    category: [re.compile(p, re.IGNORECASE) for p in patterns]
    for category, patterns in LEXICON.items()
}
_THIRD: Final = [re.compile(p, re.IGNORECASE) for p in THIRD_PARTY_WORDS]


def text_problems(text: str) -> list[str]:
    """Lexicon hits in a rendered message: ``category: "matched words"``."""
    found = []
    for category, patterns in _COMPILED.items():
        for pattern in patterns:
            match = pattern.search(text)
            if match:
                found.append(f'{category}: "{match.group(0)}"')
    return found


def third_party_problems(text: str) -> list[str]:
    found = []
    for pattern in _THIRD:
        match = pattern.search(text)
        if match:
            found.append(f'third-party disclosure: "{match.group(0)}"')
    return found


def source_problems(source: str, *, third_party: bool) -> list[str]:
    """Problems visible in the template source itself (hard-coded sums, amount variables)."""
    found = []
    match = HARD_CODED_AMOUNT.search(source)
    if match:
        found.append(f'false claim: hard-coded amount "{match.group(0)}"')
    if third_party:
        for name in THIRD_PARTY_VARIABLES:
            if re.search(r"\{\{[^}]*\b" + name + r"\b", source):
                found.append(f"third-party disclosure: uses {{{{ {name} }}}}")
    return found


def check_template(
    template: str, language: str, recipient: str, channel: str | None = None
) -> list[str]:
    """Every problem of one template in one language (rendered on every sample branch).

    The channel is the template name's prefix (``sms_friendly`` → sms) unless given."""
    from overdue.contact.render import TemplateMissing, render, sample_contexts, template_source

    where = f"template {language}/{template}"
    try:
        source = template_source(template, language)
    except TemplateMissing:
        return [f"{where}: missing"]
    third = recipient == "third_party"
    problems = source_problems(source, third_party=third)
    channel = channel or template.rsplit("_", 1)[0]
    for context in sample_contexts():
        try:
            message = render(template, language, {**context, "channel": channel})
        except Exception as exc:  # any render error is a template problem
            problems.append(f"does not render ({type(exc).__name__}: {exc})")
            break
        text = f"{message.subject or ''}\n{message.body}"
        problems += text_problems(text)
        if third:
            problems += third_party_problems(text)
        if channel in OPT_OUT_CHANNELS and not OPT_OUT[language].search(message.body):
            problems.append("missing opt-out (STOP / 退订)")
    unique = list(dict.fromkeys(problems))
    return [f"{where}: {p}" for p in unique]


def check_notice_template(template: str, channels: Sequence[str]) -> list[str]:
    """Problems of a notice template sent by several channels (each rendered, both languages)."""
    from overdue.contact.render import LANGUAGES

    problems: list[str] = []
    for language in LANGUAGES:
        for channel in channels:
            found = check_template(template, language, "debtor", channel)
            problems += [f"{p} (as {channel})" for p in found]
    return problems


def check_profile_opt_out(opt_out_channels: Sequence[str]) -> list[str]:
    """Shipped debtor templates of a profile's opt-out channels without an opt-out line."""
    from overdue.contact.render import LANGUAGES, environment, render, sample_contexts

    problems: list[str] = []
    for name in sorted(environment().list_templates(filter_func=lambda n: n.endswith(".j2"))):
        language, _, file = name.partition("/")
        stem = file.removesuffix(".txt.j2")
        channel = stem.rsplit("_", 1)[0]
        if language not in LANGUAGES or stem.startswith("_") or stem.endswith("_locate"):
            continue
        if channel not in opt_out_channels:
            continue
        for context in sample_contexts():
            body = render(stem, language, {**context, "channel": channel}).body
            if not OPT_OUT[language].search(body):
                problems.append(f"template {language}/{stem}: missing opt-out (STOP / 退订)")
                break
    return problems


def check_spec_templates(spec: StrategySpec) -> Sequence[str]:
    """Problems with the templates a spec names, in both languages."""
    from overdue.contact.render import LANGUAGES

    problems: list[str] = []
    for template, recipient in sorted(spec.templates_used()):
        if recipient == "third_party" and not template.endswith("_locate"):
            problems.append(f"template {template}: a third party only gets a *_locate template")
        for language in LANGUAGES:
            problems += check_template(template, language, recipient)
    return problems
