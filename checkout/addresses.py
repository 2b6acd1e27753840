"""E-mail addresses: the one rule that settings, forms and commands check them by."""

MAX_LENGTH = 320  # RFC 5321: 64 for the local part, @, 255 for the domain


def is_email_address(value: str) -> bool:
    """One bare address, `local@domain`: no display name, spaces or control characters.
    A domain without a dot (`ops@localhost`) is allowed: an intranet may deliver to one."""
    local, at, domain = value.rpartition("@")
    return (
        bool(at and local and domain)
        and len(value) <= MAX_LENGTH
        and not any(ch.isspace() or ord(ch) < 32 for ch in value)
    )
