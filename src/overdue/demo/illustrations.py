"""Illustrative accounts, one per rule of domain.md §2, each a CASE.json with its policy.

The same cases are written out by ``overdue demo`` so that anyone can rerun one with
``overdue account-state``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

AS_OF = date(2026, 3, 15)


@dataclass(frozen=True)
class Illustration:
    name: str
    rule_en: str
    rule_zh: str
    policy: str
    case: dict[str, Any]


def _loan(account_id: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"account_id": account_id, "product": "installment", "items": items, **extra}


def _bill(account_id: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"account_id": account_id, "product": "revolving", "items": items, **extra}


def _item(
    item_id: str, due: str, principal: str, interest: str = "0.00", **extra: str
) -> dict[str, Any]:
    return {"id": item_id, "due_date": due, "principal": principal, "interest": interest, **extra}


def _pay(payment_id: str, day: str, amount: str) -> dict[str, str]:
    return {"id": payment_id, "date": day, "amount": amount}


BANK_GRACE = {
    "grace_days": 3,
    "tolerance": "1.00",
}  # a bank-style policy: 3 grace days, 1.00 tolerance
TWO_INSTALLMENTS = [
    _item("L-01", "2026-01-10", "1000.00", "40.00"),
    _item("L-02", "2026-02-10", "1000.00", "30.00"),
]

ILLUSTRATIONS: tuple[Illustration, ...] = (
    Illustration(
        "paid-on-time",
        "Paid in full on the due date: current, no penalty",
        "到期日当天全额还款:正常,无罚息",
        "jiebei-like",
        _loan(
            "D01",
            [*TWO_INSTALLMENTS, _item("L-03", "2026-04-10", "1000.00", "20.00")],
            payments=[_pay("P1", "2026-01-10", "1040.00"), _pay("P2", "2026-02-10", "1030.00")],
        ),
    ),
    Illustration(
        "oldest-item-decides",
        "The oldest unpaid item, not the first in the file, decides DPD",
        "逾期天数由最早未还的账单决定,而非文件中的第一条",
        "jiebei-like",
        _loan(
            "D02",
            [
                _item("L-02", "2026-02-10", "1000.00", "30.00"),
                _item("L-01", "2026-01-10", "1000.00", "40.00"),
            ],
        ),
    ),
    Illustration(
        "partly-paid-penalty",
        "Partly paid: penalty on principal + interest at contract rate × 1.5, fee→penalty→interest→principal",
        "部分还款:按合同日利率×1.5对本息计罚息,顺序为费用→罚息→利息→本金",
        "jiebei-like",
        _loan("D03", TWO_INSTALLMENTS, payments=[_pay("P1", "2026-01-20", "500.00")]),
    ),
    Illustration(
        "grace-kept",
        "Paid within 3 grace days: never overdue, provisional penalty dropped",
        "宽限期(3天)内还清:不算逾期,宽限期罚息免除",
        "huabei-like",
        _bill(
            "D04",
            [_item("B-01", "2026-03-10", "2000.00", minimum="200.00")],
            payments=[_pay("P1", "2026-03-13", "2000.00")],
            policy=BANK_GRACE,
        ),
    ),
    Illustration(
        "grace-missed-late-fee",
        "Still unpaid after grace: overdue from the due date, penalty from due+1, late fee once",
        "宽限期后仍未还:自到期日起算逾期,罚息自次日起算,收取一次滞纳金",
        "us-card",
        _bill("D05", [_item("B-01", "2026-02-10", "800.00", minimum="35.00")]),
    ),
    Illustration(
        "tolerance",
        "0.50 left unpaid is within the 1.00 tolerance: not overdue",
        "剩余0.50元在1.00元容差内:不算逾期",
        "huabei-like",
        _bill(
            "D06",
            [_item("B-01", "2026-02-10", "1500.00", minimum="150.00")],
            payments=[_pay("P1", "2026-02-10", "1499.50")],
            policy=BANK_GRACE,
        ),
    ),
    Illustration(
        "minimum-paid-revolves",
        "Minimum paid by the due date: the rest revolves, not overdue",
        "到期前还了最低还款额:剩余部分转入下期(循环),不算逾期",
        "huabei-like",
        _bill(
            "D07",
            [_item("B-02", "2026-03-10", "3000.00", minimum="300.00")],
            payments=[_pay("P1", "2026-03-09", "300.00")],
        ),
    ),
    Illustration(
        "minimum-missed",
        "Less than the minimum paid: the whole bill is overdue",
        "未还足最低还款额:整期账单逾期",
        "huabei-like",
        _bill(
            "D08",
            [_item("B-02", "2026-03-10", "3000.00", minimum="300.00")],
            payments=[_pay("P1", "2026-03-10", "299.00")],
        ),
    ),
    Illustration(
        "credit-balance",
        "An overpayment waits as credit and pays the next item on its due date",
        "多还的金额作为溢缴款,在下期到期日自动抵扣",
        "jiebei-like",
        _loan("D09", TWO_INSTALLMENTS, payments=[_pay("P1", "2026-01-08", "2070.00")]),
    ),
    Illustration(
        "backdated-payment",
        "A payment entered late counts from its value date (its 2 days of penalty paid with it)",
        "补录的还款按起息日计算,结果与当日入账相同",
        "jiebei-like",
        _loan(
            "D10",
            TWO_INSTALLMENTS,
            payments=[_pay("P2", "2026-02-10", "1030.00"), _pay("P1", "2026-01-12", "1041.24")],
        ),
    ),
    Illustration(
        "reversal",
        "A bounced payment is reversed: as if it had never been made",
        "还款被冲正(退票):视同从未还款",
        "jiebei-like",
        _loan(
            "D11",
            TWO_INSTALLMENTS,
            payments=[_pay("P1", "2026-01-10", "1040.00")],
            reversals=[{"payment_id": "P1", "date": "2026-01-14"}],
        ),
    ),
    Illustration(
        "waiver",
        "An approved waiver removes the penalty, oldest item first",
        "经审批的减免先冲减最早账单的罚息",
        "jiebei-like",
        _loan(
            "D12",
            TWO_INSTALLMENTS,
            payments=[_pay("P1", "2026-03-01", "2071.24")],
            waivers=[
                {
                    "date": "2026-02-28",
                    "component": "penalty",
                    "amount": "100.00",
                    "approver": "team-lead-01",
                }
            ],
        ),
    ),
    Illustration(
        "bucket-off-by-one",
        "30 days past due is M1 in China but the US 30 bucket: the off-by-one is real",
        "逾期30天:中国口径为M1,美国口径为30天档,这一天的差异是真实存在的",
        "jiebei-like",
        _loan("D15", [_item("L-01", "2026-02-13", "1000.00", "40.00")]),
    ),
    Illustration(
        "charge-off-recovery",
        "120 days past due: charged off, penalty stops, later payments are recoveries",
        "逾期120天核销:停止计罚息,之后的还款计为核销后回收",
        "jiebei-like",
        _loan(
            "D13",
            [
                _item("L-01", "2025-10-10", "1000.00", "40.00"),
                _item("L-02", "2025-11-10", "1000.00", "30.00"),
            ],
            payments=[_pay("P1", "2026-03-01", "300.00")],
        ),
    ),
    Illustration(
        "settled",
        "Paid off late with its penalty, nothing scheduled: settled",
        "逾期后连同罚息一次结清,且无未来应还:已结清",
        "jiebei-like",
        _loan("D14", TWO_INSTALLMENTS, payments=[_pay("P1", "2026-02-10", "2089.22")]),
    ),
)
