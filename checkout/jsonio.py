"""JSON that keeps money exact: numbers parse to Decimal and Decimals print as numbers."""

from datetime import date, datetime

import simplejson
from flask.json.provider import JSONProvider


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
