"""Deterministic fake personal data for customers of a synthetic book (the book has none).

Everything here is derived from a hash of the customer id, so a reload gives the same values,
and is recognisably fake: e-mail addresses end in ``.invalid`` (a reserved top-level domain), ID
numbers start with ``99`` (no such region), and the customers are flagged ``synthetic``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
_FIRST_EN = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery")
_LAST_EN = ("Smith", "Chen", "Garcia", "Nguyen", "Brown", "Lee", "Wilson", "Clark", "Lopez")
_STREETS_CN = ("人民路", "解放路", "中山路", "建设路", "和平街", "文化路")
_STREETS_EN = ("Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St")
SYNTHETIC_DOMAIN = "example.invalid"


@dataclass(frozen=True)
class FakePerson:
    name: str
    phone: str
    email: str
    address: str
    id_number: str
    emergency_phone: str


def _digits(seed: bytes, count: int) -> str:
    number = int.from_bytes(hashlib.sha256(seed).digest(), "big")
    return str(number % 10**count).zfill(count)


def fake_person(customer_id: str, language: str, region: str | None) -> FakePerson:
    digest = hashlib.sha256(customer_id.encode()).digest()
    pick = digest[0], digest[1], digest[2], digest[3]
    if language == "en":
        name = f"{_FIRST_EN[pick[0] % len(_FIRST_EN)]} {_LAST_EN[pick[1] % len(_LAST_EN)]}"
        street = _STREETS_EN[pick[2] % len(_STREETS_EN)]
        address = f"{pick[3] % 900 + 100} {street}, {region or 'Springfield'}"
        phone = "555" + _digits(b"p" + digest, 7)
        emergency = "555" + _digits(b"e" + digest, 7)
    else:
        given = _GIVEN[pick[1] % len(_GIVEN)] + _GIVEN[pick[2] % len(_GIVEN)]
        name = _SURNAMES[pick[0] % len(_SURNAMES)] + given
        street = _STREETS_CN[pick[2] % len(_STREETS_CN)]
        address = f"{region or '浙江'}省示例市{street}{pick[3] % 200 + 1}号"
        phone = "138" + _digits(b"p" + digest, 8)
        emergency = "139" + _digits(b"e" + digest, 8)
    return FakePerson(
        name=name,
        phone=phone,
        email=f"{customer_id.lower()}@{SYNTHETIC_DOMAIN}",
        address=address,
        id_number="99" + _digits(b"i" + digest, 16),
        emergency_phone=emergency,
    )
