"""Admin accounts: hashed passwords and throttled logins."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from checkout import audit, throttle
from checkout.audit import Action, Actor
from checkout.errors import DomainError, ValidationError
from checkout.extensions import db
from checkout.models import Admin, utcnow
from checkout.passwords import check_password, dummy_hash, hash_password

LOGIN_WINDOW = timedelta(minutes=15)
# Failures are counted per e-mail and client together, and per client (an address, IPv6 a
# /64: throttle.client_key): never per e-mail alone, so no stranger can lock an admin out
# from everywhere. The per-client limit is higher, for an admin who mistypes an e-mail, yet
# stops one client trying many e-mails. (Failures per e-mail from all clients only slow
# sign-ins, for a minute: RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT in admin/auth.py.)
MAX_FAILURES_PER_ACCOUNT_AND_CLIENT = 5
MAX_FAILURES_PER_CLIENT = 20
PASSWORD_MIN = 10


class TooManyAttempts(DomainError):
    """Too many wrong passwords from one client; `lockout` says how long it waits."""

    def __init__(self, lockout: throttle.Lockout):
        super().__init__(f"Too many wrong passwords. Try again {lockout.wait_text}.")
        self.lockout = lockout


@dataclass(frozen=True)
class LoginResult:
    admin: Admin | None
    lockout: throttle.Lockout | None = None


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


def set_password(admin: Admin, password: str, *, actor: Actor) -> None:
    """Replace an admin's password; every session of the admin ends."""
    if len(password or "") < PASSWORD_MIN:
        raise ValidationError("password", f"Use at least {PASSWORD_MIN} characters")
    admin.password_hash = hash_password(password)
    admin.session_version = Admin.session_version + 1
    audit.record(actor, Action.ADMIN_PASSWORD_SET, "admin", str(admin.id), email=admin.email)
    db.session.commit()


def change_password(admin: Admin, current: str, new: str, client: str) -> None:
    """Change an admin's own password, which they prove they know; every session ends.

    Wrong current passwords count as failed sign-ins from that client, so a stolen session
    cannot guess the password at leisure.
    """
    pair = _pair(admin.email, throttle.client_key(client))
    lockout = throttle.lockout(
        "login-pair", pair, LOGIN_WINDOW, MAX_FAILURES_PER_ACCOUNT_AND_CLIENT
    )
    if lockout:
        raise TooManyAttempts(lockout)
    if not check_password(admin.password_hash, current or ""):
        throttle.record("login-pair", pair)
        db.session.commit()
        raise ValidationError("current_password", "That is not your current password")
    set_password(admin, new, actor=audit.admin(admin.email))


def end_sessions(admin: Admin) -> None:
    """Sign an admin out everywhere: every session made before now stops working."""
    admin.session_version = Admin.session_version + 1
    db.session.commit()


def remove_admin(admin: Admin, by: Admin) -> None:
    """Delete another admin, whose sessions end with the row; no one removes themself."""
    if admin.id == by.id:
        raise ValidationError("admin", "You cannot remove yourself; ask another admin")
    audit.record(
        audit.admin(by.email), Action.ADMIN_REMOVED, "admin", str(admin.id), email=admin.email
    )
    db.session.delete(admin)
    db.session.commit()


def _pair(email: str, client: str) -> str:
    return f"{email}|{client}"


def log_in(email: str, password: str, client: str) -> LoginResult:
    """Check a login; a client (IPv6: its /64) with too many failures is refused for a while."""
    email = _normal(email)
    client = throttle.client_key(client)
    lockout = throttle.lockout(
        "login-client", client, LOGIN_WINDOW, MAX_FAILURES_PER_CLIENT
    ) or throttle.lockout(
        "login-pair", _pair(email, client), LOGIN_WINDOW, MAX_FAILURES_PER_ACCOUNT_AND_CLIENT
    )
    if lockout:
        return LoginResult(None, lockout)
    admin = db.session.scalar(select(Admin).where(func.lower(Admin.email) == email))
    if admin is None:
        # Compared against when the e-mail is unknown, so both paths cost one hash check.
        check_password(dummy_hash(), password or "")
    elif check_password(admin.password_hash, password or ""):
        throttle.clear("login-pair", _pair(email, client))
        admin.last_login_at = utcnow()
        db.session.commit()
        return LoginResult(admin)
    throttle.record("login-client", client)
    throttle.record("login-pair", _pair(email, client))
    db.session.commit()
    return LoginResult(None)


# Queries for the admin pages


def find_admin(admin_id: int) -> Admin | None:
    """The admin with this id, or None."""
    return db.session.get(Admin, admin_id)


def session_admin(session_id: str) -> Admin | None:
    """The admin a session's '<id>:<version>' names, or None if that version has ended."""
    admin_id, _, version = session_id.partition(":")
    if not (admin_id.isdigit() and version.isdigit()):
        return None
    admin = find_admin(int(admin_id))
    if admin is None or admin.session_version != int(version):
        return None
    return admin


def all_admins() -> list[Admin]:
    """Every admin, oldest first."""
    return list(db.session.scalars(select(Admin).order_by(Admin.created_at, Admin.id)))
