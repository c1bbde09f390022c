"""scrypt password hashes: salted, self-describing, verified in constant time."""

from __future__ import annotations

from nodes.passwords import hash_password, verify_password


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("alice-pass", cost=10)
    assert stored.startswith("scrypt$10$")
    assert "alice-pass" not in stored
    assert verify_password("alice-pass", stored)
    assert not verify_password("alice-pasS", stored)


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same", cost=10) != hash_password("same", cost=10)


def test_verification_uses_the_stored_cost() -> None:
    assert verify_password("pw", hash_password("pw", cost=11))


def test_malformed_hashes_never_verify() -> None:
    for stored in [
        "",
        "plain",
        "scrypt$10$8$1$!!$!!",
        "bcrypt$10$8$1$aa$bb",
        "scrypt$99$8$1$aa$bb",
    ]:
        assert not verify_password("pw", stored)
