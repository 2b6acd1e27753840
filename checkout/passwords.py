"""Password hashes, made with the configured method (scrypt unless the config says otherwise)."""

from functools import cache

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash


def hash_password(plain: str) -> str:
    """A salted hash of a password, made with PASSWORD_HASH_METHOD."""
    return generate_password_hash(plain, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password(stored: str, plain: str) -> bool:
    """Whether a password matches a stored hash, whichever method made the hash."""
    return check_password_hash(stored, plain)


def dummy_hash() -> str:
    """A hash of no one's password, by PASSWORD_HASH_METHOD, that costs a real check to compare."""
    return _dummy_hash(current_app.config["PASSWORD_HASH_METHOD"])


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("kassa-no-such-admin", method=method)
