"""Admin accounts: hashed passwords and throttled logins."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from checkout import audit, throttle
from checkout.audit import Action, Actor
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import Admin, utcnow
from checkout.passwords import check_password, dummy_hash, hash_password

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_CLIENT = 10
MAX_FAILURES_PER_ACCOUNT = 5
PASSWORD_MIN = 10


@dataclass(frozen=True)
class LoginResult:
    admin: Admin | None
    locked_out: bool = False


def _normal(email: str) -> str:
    return (email or "").strip().lower()


def create_admin(email: str, password: str, *, actor: Actor) -> Admin:
    """Create an admin, or raise ValidationError."""
    email = _normal(email)
    if "@" not in email or len(email) > 254:
        raise ValidationError("email", "Enter a valid e-mail address")
    if len(password or "") < PASSWORD_MIN:
        raise ValidationError("password", f"Use at least {PASSWORD_MIN} characters")
    if db.session.scalar(select(Admin.id).where(Admin.email == email)) is not None:
        raise ValidationError("email", f"An admin with e-mail {email} already exists")
    admin = Admin(email=email, password_hash=hash_password(password))
    db.session.add(admin)
    db.session.flush()
    audit.record(actor, Action.ADMIN_CREATED, "admin", str(admin.id), email=email)
    db.session.commit()
    return admin


def set_password(admin: Admin, password: str) -> None:
    """Replace an admin's password."""
    if len(password or "") < PASSWORD_MIN:
        raise ValidationError("password", f"Use at least {PASSWORD_MIN} characters")
    admin.password_hash = hash_password(password)
    db.session.commit()


def log_in(email: str, password: str, client: str) -> LoginResult:
    """Check a login; refuse all attempts for a while after too many failures."""
    email = _normal(email)
    if (
        throttle.count("login-client", client, LOGIN_WINDOW) >= MAX_FAILURES_PER_CLIENT
        or throttle.count("login-account", email, LOGIN_WINDOW) >= MAX_FAILURES_PER_ACCOUNT
    ):
        return LoginResult(None, locked_out=True)
    admin = db.session.scalar(select(Admin).where(func.lower(Admin.email) == email))
    if admin is None:
        # Compared against when the e-mail is unknown, so both paths cost one hash check.
        check_password(dummy_hash(), password or "")
    elif check_password(admin.password_hash, password or ""):
        throttle.clear("login-account", email)
        admin.last_login_at = utcnow()
        db.session.commit()
        return LoginResult(admin)
    throttle.record("login-client", client)
    throttle.record("login-account", email)
    db.session.commit()
    return LoginResult(None)


# Queries for the admin pages


def find_admin(admin_id: int) -> Admin | None:
    """The admin with this id, or None."""
    return db.session.get(Admin, admin_id)
