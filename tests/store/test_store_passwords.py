"""Argon2 password hashes."""

from __future__ import annotations

import pytest

from overdue.cases.users import hash_password, needs_rehash, verify_password


def test_hash_verifies_only_the_right_password() -> None:
    hashed = hash_password("s3cret-密码")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "s3cret-密码")
    assert not verify_password(hashed, "s3cret-密")
    assert not verify_password(hashed, "")
    assert not verify_password("not a hash", "s3cret-密码")
    assert not needs_rehash(hashed)


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same") != hash_password("same")


def test_empty_and_huge_passwords_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")
    with pytest.raises(ValueError, match="longer"):
        hash_password("x" * 2000)
