"""Staff passwords: argon2id hashes (argon2-cffi) and the rules a new password meets."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256
_HASHER = PasswordHasher()  # argon2id with the library's current defaults

# a hash to verify against when there is no account, so that an unknown address takes
# as long as a wrong password
_DUMMY = _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Does ``password`` match the stored hash? Works (and takes as long) without one."""
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


def problem(password: str, *, email: str, name: str) -> str:
    """What is wrong with a new password, or "" when it will do."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if lowered in (email.lower(), local, name.lower()) or (len(set(password)) < 4):
        return "Choose a password that is not your address, your name or one repeated character."
    return ""
