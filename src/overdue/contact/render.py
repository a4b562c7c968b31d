"""Customer messages: Jinja2 templates (zh-CN, en) that carry personal education.

Templates live in ``overdue/contact/templates/<language>/<channel>_<tone>.txt.j2`` (third
parties: ``<channel>_locate.txt.j2``); an e-mail's first line is ``Subject: ...``. Every message
to a debtor tells the amount due, the penalty so far and what it will be in 7 days if unpaid,
what overdue does to the credit record (征信 / credit report), how to pay and how to ask for an
installment plan; e-mails and texts carry an opt-out. :func:`education_columns` computes the
amounts per planned contact (exact: integer fen and ``Decimal``), :func:`render` renders one
template and :func:`render_planned` one planned row. ``docs/strategy/templates.md`` has the list
of variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from typing import Any, Final

import jinja2
import pyarrow as pa
import pyarrow.compute as pc

from overdue.domain.policy import PenaltyBase, Policy, Product

LANGUAGES: Final = ("zh-CN", "en")
SYMBOL: Final = {"CNY": "¥", "USD": "$"}
EDUCATION_DAYS: Final = 7
MAX_MESSAGE_CHARS: Final = 20_000
EDUCATION_SCHEMA: Final = pa.schema(
    [
        ("customer_name", pa.string()),
        ("currency", pa.string()),
        ("dpd", pa.int32()),
        ("due_date", pa.date32()),
        ("amount_due_fen", pa.int64()),
        ("penalty_fen", pa.int64()),
        ("penalty_in_7_days_fen", pa.int64()),
    ]
)


_BLANK_LINES: Final = re.compile(r"\n\s*\n\s*\n+")


class TemplateMissing(LookupError):
    """No template of that name in that language."""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str | None
    body: str


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    root = resources.files("overdue.contact") / "templates"
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def template_path(template: str, language: str) -> str:
    if language not in LANGUAGES:
        raise TemplateMissing(f"language {language!r}: must be one of {', '.join(LANGUAGES)}")
    return f"{language}/{template}.txt.j2"


def template_source(template: str, language: str) -> str:
    path = template_path(template, language)
    try:
        source, _, _ = environment().loader.get_source(environment(), path)  # type: ignore[union-attr]
    except jinja2.TemplateNotFound:
        raise TemplateMissing(f"no template {path}") from None
    return source


def money_text(fen: int | None, currency: str) -> str:
    """``¥1,234.50`` from integer fen, exactly."""
    if fen is None:
        return ""
    amount = Decimal(int(fen)) / 100
    return f"{SYMBOL.get(currency, currency + ' ')}{amount:,.2f}"


def render(template: str, language: str, context: Mapping[str, Any]) -> RenderedMessage:
    """Render ``<language>/<template>.txt.j2``; a first line ``Subject: ...`` becomes the subject.

    Undefined variables are errors (StrictUndefined)."""
    try:
        compiled = environment().get_template(template_path(template, language))
    except jinja2.TemplateNotFound:
        raise TemplateMissing(f"no template {template_path(template, language)}") from None
    text = _BLANK_LINES.sub("\n\n", compiled.render(**context)).strip()
    assert len(text) <= MAX_MESSAGE_CHARS, f"{template}: message longer than {MAX_MESSAGE_CHARS}"
    subject = None
    if text.startswith("Subject:"):
        first, _, rest = text.partition("\n")
        subject, text = first.removeprefix("Subject:").strip(), rest.strip()
    return RenderedMessage(subject, text)


def message_context(row: Mapping[str, Any]) -> dict[str, Any]:
    """Template variables from a planned row (with the :data:`EDUCATION_SCHEMA` columns)."""
    currency = row.get("currency") or "CNY"
    due = row.get("due_date")
    dpd = int(row.get("dpd") or 0)
    now = row.get("penalty_fen")
    later = row.get("penalty_in_7_days_fen")
    grows = later is not None and now is not None and later > now
    return {
        "name": row.get("customer_name") or "",
        "market": "us" if currency == "USD" else "cn",
        "dpd": dpd,
        "due_date": due.isoformat() if isinstance(due, date) else "",
        "amount_due": money_text(row.get("amount_due_fen") or 0, currency),
        "penalty_so_far": money_text(now or 0, currency),
        "penalty_in_7_days": money_text(later, currency) if grows else "",
        "channel": row.get("channel", ""),
        "self_service_url": "",
    }


def render_planned(row: Mapping[str, Any], self_service_url: str = "") -> tuple[str | None, str]:
    """(subject, body) of a planned contact row; ``self_service_url``: the debtor's own page
    (e-mails to the debtor carry it; messages to third parties never do)."""
    context = message_context(row)
    context["self_service_url"] = self_service_url
    message = render(str(row["template"]), str(row["language"]), context)
    return message.subject, message.body


# --- the amounts ---------------------------------------------------------------------------------


def _round_fen(amount_fen: Decimal) -> int:
    return int(amount_fen.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def penalty_growth_fen(
    items: list[dict[str, Any]], policy: Policy, as_of: date, days: int = EDUCATION_DAYS
) -> int:
    """Penalty that accrues over the ``days`` after ``as_of`` if nothing is paid (domain.md §2:
    each open item with due date < D accrues, on day D, base × daily rate rounded half-up to
    0.01; the base does not change while nothing is paid)."""
    total = 0
    horizon = as_of + timedelta(days=days)
    for item in items:
        principal = int(item.get("unpaid_principal_fen") or 0)
        interest = int(item.get("unpaid_interest_fen") or 0)
        base = principal + (
            interest if policy.penalty_base is PenaltyBase.PRINCIPAL_AND_INTEREST else 0
        )
        if base <= 0 or item["due_date"] >= horizon:
            continue
        accruing = (horizon - max(item["due_date"], as_of)).days
        total += accruing * _round_fen(Decimal(base) * policy.penalty_daily_rate)
    assert total >= 0
    return total


@lru_cache(maxsize=256)
def _preset_policy(name: str, product: str) -> Policy | None:
    from overdue.config.policies import PolicyConfigError, build_policy, load_policy_source

    try:
        return build_policy(Product(product), load_policy_source(name))
    except (PolicyConfigError, ValueError):
        return None


def education_columns(
    planned: pa.Table,
    snapshot: pa.Table,
    as_of: date,
    *,
    customers: pa.Table | None = None,
    accounts: pa.Table | None = None,
    policies: Mapping[tuple[str, str], Policy] | None = None,
) -> pa.Table:
    """:data:`EDUCATION_SCHEMA` columns, one row per planned row.

    Policies come from ``policies`` (as ``overdue.portfolio.eod.resolve_policies`` gives them)
    or, by name, from the shipped presets; when neither knows the policy, the penalty in 7 days
    is left null (the message then leaves that sentence out). The currency comes from
    ``accounts`` (``currency``), else CNY; the name from ``customers`` (``name``), else empty.
    """
    ids = planned.column("account_id").combine_chunks()
    distinct = pc.unique(ids)
    slot = pc.index_in(ids, value_set=distinct).to_numpy(zero_copy_only=False)
    where = pc.index_in(distinct, value_set=snapshot.column("account_id").combine_chunks())
    assert where.null_count == 0, "planned contacts name accounts missing from the snapshot"
    needed = [
        "dpd",
        "status",
        "policy",
        "product",
        "penalty_outstanding_fen",
        "total_overdue_fen",
        "oldest_past_due_date",
        "items",
    ]
    rows = snapshot.select(needed).take(where).to_pylist()
    per_account = [_education(row, as_of, policies) for row in rows]
    n = len(per_account)
    columns = list(zip(*per_account, strict=True)) if n else [(), (), (), (), ()]
    take = pa.array(slot, type=pa.int64())
    return pa.table(
        {
            "customer_name": _lookup_text(
                planned.column("customer_id"), customers, "customer_id", "name", ""
            ),
            "currency": _lookup_text(ids, accounts, "account_id", "currency", "CNY"),
            "dpd": pa.array(columns[0], pa.int32()).take(take),
            "due_date": pa.array(columns[1], pa.date32()).take(take),
            "amount_due_fen": pa.array(columns[2], pa.int64()).take(take),
            "penalty_fen": pa.array(columns[3], pa.int64()).take(take),
            "penalty_in_7_days_fen": pa.array(columns[4], pa.int64()).take(take),
        },
        schema=EDUCATION_SCHEMA,
    )


def _lookup_text(
    keys: pa.Array | pa.ChunkedArray, table: pa.Table | None, key: str, column: str, default: str
) -> pa.Array:
    if table is None or column not in table.column_names:
        return pa.repeat(pa.scalar(default, pa.string()), len(keys))
    pos = pc.index_in(keys, value_set=table.column(key).combine_chunks())
    values = table.column(column).combine_chunks().take(pos)
    return pc.fill_null(pc.cast(values, pa.string()), default)


def _education(
    row: dict[str, Any], as_of: date, policies: Mapping[tuple[str, str], Policy] | None
) -> tuple[int, date | None, int, int, int | None]:
    items = [i for i in row["items"] or [] if _unpaid(i) > 0]
    dpd = int(row["dpd"] or 0)
    penalty = int(row["penalty_outstanding_fen"] or 0)
    if dpd > 0:
        amount = int(row["total_overdue_fen"] or 0)
        due = row["oldest_past_due_date"]
        counted = [i for i in items if i["due_date"] < as_of]
    else:
        upcoming = sorted(i["due_date"] for i in items if i["due_date"] >= as_of)
        due = upcoming[0] if upcoming else None
        counted = [i for i in items if i["due_date"] == due]
        amount = sum(_unpaid(i) for i in counted)
    key = (row["policy"], row["product"])
    policy = (policies or {}).get(key) or _preset_policy(*key)
    stopped = row["status"] == "charged_off" and not (policy and policy.accrue_after_write_off)
    if policy is None:
        later = None
    elif stopped:
        later = penalty
    else:
        later = penalty + penalty_growth_fen(counted, policy, as_of)
    return dpd, due, amount, penalty, later


def _unpaid(item: dict[str, Any]) -> int:
    return sum(
        int(item.get(name) or 0)
        for name in (
            "unpaid_principal_fen",
            "unpaid_interest_fen",
            "unpaid_fee_fen",
            "unpaid_penalty_fen",
        )
    )


def sample_contexts() -> list[dict[str, Any]]:
    """Contexts that exercise every branch of the templates (for the wording check)."""
    base = {
        "name": "Li Hua",
        "due_date": "2024-07-10",
        "amount_due": "¥1,234.50",
        "penalty_so_far": "¥12.30",
        "penalty_in_7_days": "¥16.62",
        "channel": "sms",
    }
    return [
        {**base, "market": market, "dpd": dpd, "penalty_in_7_days": later, "name": name,
         "self_service_url": url}
        for market in ("cn", "us")
        for dpd in (0, 12)
        for later in ("¥16.62", "")
        for name, url in (("Li Hua", ""), ("", "https://pay.example.com/self/Q0.20240714.x"))
    ]  # fmt: skip
