"""JSON that keeps money exact: numbers parse to Decimal and Decimals print as numbers."""

from datetime import date, datetime

import simplejson
from flask.json.provider import JSONProvider

# Deeper bodies are refused before parsing: the parsers recurse once per level.
MAX_DEPTH = 64
_OPENERS, _CLOSERS = frozenset(b"[{"), frozenset(b"]}")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


class BodyRefused(ValueError):
    """A JSON body Kassa will not read: too deep, malformed, or with text it cannot store;
    `code` names which, `param` the field holding the text (None for the body as a whole)."""

    def __init__(self, message: str, code: str, param: str | None = None):
        super().__init__(message)
        self.code = code
        self.param = param


def _default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(obj, **kwargs) -> str:
    """Serialize, writing Decimal as a JSON number."""
    kwargs.setdefault("default", _default)
    return simplejson.dumps(obj, use_decimal=True, **kwargs)


def loads(text: str | bytes, **kwargs):
    """Parse, reading every non-integer number as Decimal and refusing NaN/Infinity."""
    return simplejson.loads(text, use_decimal=True, **kwargs)


def pretty(text: str) -> str:
    """A JSON text indented by 2 for people, its numbers unchanged; other text as it is."""
    try:
        return dumps(loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def nesting_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, by one scan without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSERS:
            depth -= 1
    return deepest


def check_depth(raw: bytes) -> None:
    """Refuse a JSON text nested deeper than MAX_DEPTH."""
    if nesting_depth(raw) > MAX_DEPTH:
        raise BodyRefused(f"JSON body is nested deeper than {MAX_DEPTH} levels", "nested_too_deep")


def check_text(value: object) -> None:
    """Refuse parsed JSON holding a string no database can store: NUL, or a lone surrogate."""
    pending: list[tuple[str, object]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                _check_string(path or "a key", key, path or None)
                pending.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
        elif isinstance(item, str):
            _check_string(path or "the body", item, path or None)


def _check_string(where: str, text: str, param: str | None) -> None:
    if "\x00" in text:
        raise BodyRefused(f"{where} must not contain NUL characters", "invalid_text", param)
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise BodyRefused(
                f"{where} must not contain lone surrogates (\\ud800-\\udfff)",
                "invalid_text",
                param,
            ) from None


def parse_body(raw: bytes):
    """A request's JSON body, parsed as `loads` does once it passed every check above."""
    check_depth(raw)
    try:
        value = loads(raw)
    except ValueError:
        raise BodyRefused("Malformed JSON body", "malformed_json") from None
    check_text(value)
    return value


class DecimalJSONProvider(JSONProvider):
    """Flask's JSON provider, backed by simplejson with Decimal support."""

    def dumps(self, obj, **kwargs) -> str:
        return dumps(obj, **kwargs)

    def loads(self, s, **kwargs):
        return loads(s, **kwargs)


def timestamp(moment: datetime | None) -> str | None:
    """A stored UTC time as '2026-01-30T10:00:00.000Z'."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
