"""Custom fields: up to three questions a payment link or a service asks its customers
before they pay (text, number or dropdown), checked when they are set and when they are
answered. An answer is kept with the order as {key, label, value}, the label as it was asked.

The settings come in the API's shape (`customFields`) from the API, the admin's forms and
the CLI alike, so one rule holds for all of them; Stripe's own custom fields of a Buy
Button's Payment Link (a Checkout Session's `custom_fields`) are kept the same way.
"""

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from checkout.enums import CollectEmail
from checkout.errors import ValidationError

MAX_FIELDS = 3
TEXT_MAX = 255
NUMBER_MAX = 255
LABEL_MAX = 50
OPTIONS_MAX = 50
OPTION_MAX = 100
KEY_MAX = 40
TYPES = ("text", "number", "dropdown")
# Alphanumeric (and _), as Stripe's keys and option values are: safe in a form's input name.
KEY = re.compile(r"^[A-Za-z0-9_]+\Z")
NUMBER = re.compile(r"^[+-]?[0-9]+([.,][0-9]+)?\Z")
SETTING = "custom_fields"


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class CustomField:
    """One question: its key (for programs), label (for the customer), type, whether it
    must be answered, and a dropdown's options."""

    key: str
    label: str
    type: str
    required: bool = False
    options: tuple[Option, ...] = ()

    @property
    def input_name(self) -> str:
        """The name of its input on a customer's form."""
        return f"field_{self.key}"

    def as_dict(self) -> dict:
        """The field in the API's shape."""
        return {
            "key": self.key,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "options": [{"value": option.value, "label": option.label} for option in self.options],
        }


class SettingRefused(ValidationError):
    """A custom field's setting refused: `position` (from 1) names the field, `part` which of
    its settings (key, label, type, required, options)."""

    def __init__(self, position: int, part: str, message: str):
        super().__init__(SETTING, f"field {position}: {message}")
        self.position = position
        self.part = part


def _text(number: int, raw: dict, name: str, longest: int, part: str | None = None) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise SettingRefused(number, part or name, f"give a {name}")
    value = value.strip()
    if len(value) > longest or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise SettingRefused(
            number, part or name, f"the {name} must be 1 to {longest} characters, on one line"
        )
    return value


def _options(number: int, raw: dict, kind: str) -> tuple[Option, ...]:
    listed = raw.get("options") or []
    if kind != "dropdown":
        if listed:
            raise SettingRefused(number, "options", f"a {kind} field has no options")
        return ()
    if not isinstance(listed, list) or not 1 <= len(listed) <= OPTIONS_MAX:
        raise SettingRefused(number, "options", f"a dropdown needs 1 to {OPTIONS_MAX} options")
    options = []
    for option in listed:
        if not isinstance(option, dict):
            raise SettingRefused(number, "options", "each option needs a value and a label")
        value = _text(number, option, "value", OPTION_MAX, "options")
        if not KEY.match(value):
            raise SettingRefused(
                number, "options", f"option {value!r}: use letters, digits and _ for its value"
            )
        options.append(Option(value, _text(number, option, "label", OPTION_MAX, "options")))
    if len({option.value for option in options}) < len(options):
        raise SettingRefused(number, "options", "two options have the same value")
    return tuple(options)


def _field(number: int, raw: object) -> CustomField:
    if not isinstance(raw, dict):
        raise SettingRefused(number, "type", "give its key, label and type")
    kind = raw.get("type")
    if kind not in TYPES:
        raise SettingRefused(number, "type", "the type must be text, number or dropdown")
    label = _text(number, raw, "label", LABEL_MAX)
    key = _text(number, raw, "key", KEY_MAX)
    if not KEY.match(key):
        raise SettingRefused(number, "key", f"key {key!r}: use letters, digits and _ only")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise SettingRefused(number, "required", "required must be true or false")
    return CustomField(key, label, kind, required, _options(number, raw, kind))


def check_settings(raw: object) -> tuple[CustomField, ...]:
    """A link's or a service's custom fields from their API shape, in order, or raise
    ValidationError (`custom_fields`) naming the first bad field by its position."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise ValidationError(SETTING, "custom fields must be a list")
    if len(raw) > MAX_FIELDS:
        raise ValidationError(SETTING, f"at most {MAX_FIELDS} custom fields")
    fields = tuple(_field(number, item) for number, item in enumerate(raw, start=1))
    keys = [field.key for field in fields]
    for position, key in enumerate(keys, start=1):
        if key in keys[: position - 1]:
            raise SettingRefused(position, "key", f"another field has the key {key!r}")
    return fields


@dataclass(frozen=True)
class Questions:
    """What a payment link or a service asks its customers before they pay: its custom
    fields and whether their e-mail (off, optional or required)."""

    fields: tuple[CustomField, ...] = ()
    collect_email: CollectEmail = CollectEmail.OFF


def check_questions(raw_fields: object, collect_email: object) -> Questions:
    """A link's or a service's questions, checked (check_settings, and `collect_email` one
    of off, optional or required), or raise ValidationError naming the setting."""
    if collect_email not in {choice.value for choice in CollectEmail}:
        raise ValidationError("collect_email", "collectEmail must be off, optional or required")
    return Questions(check_settings(raw_fields), CollectEmail(collect_email))


def assign(row, questions: Questions) -> None:
    """Write checked questions to a link or a service."""
    row.custom_fields_json = to_json(questions.fields)
    row.collect_email = questions.collect_email


def settings_of(row) -> list[dict]:
    """A link's or a service's custom fields in the API's shape."""
    return [field.as_dict() for field in from_json(row.custom_fields_json)]


def to_json(fields: Iterable[CustomField]) -> str:
    """The fields as stored on a link or a service."""
    return json.dumps([field.as_dict() for field in fields])


def from_json(text: str | None) -> tuple[CustomField, ...]:
    """The fields a link or a service stores (checked when they were saved)."""
    fields = []
    for raw in json.loads(text or "[]"):
        options = tuple(Option(item["value"], item["label"]) for item in raw.get("options", []))
        fields.append(
            CustomField(raw["key"], raw["label"], raw["type"], bool(raw["required"]), options)
        )
    return tuple(fields)


# Answers


class FieldRefused(ValidationError):
    """A customer's or provider's answer a custom field does not take."""

    def __init__(self, field: CustomField, message: str):
        super().__init__(SETTING, message)
        self.custom_field = field


def answer(field: CustomField, raw: object) -> str | None:
    """What a customer's (or a provider's) answer to one field keeps, None for none; raise
    ValueError saying what is wrong with it, for the person who gave it."""
    if isinstance(raw, Decimal | int) and not isinstance(raw, bool) and field.type == "number":
        raw = format(Decimal(raw), "f")
    if raw is not None and not isinstance(raw, str):
        raise ValueError(f"{field.label}: give text")
    value = (raw or "").strip()
    if not value:
        if field.required:
            raise ValueError(f"{field.label}: this field is required")
        return None
    if field.type == "dropdown":
        if value not in {option.value for option in field.options}:
            raise ValueError(f"{field.label}: choose one of the options")
        return value
    if field.type == "number":
        if len(value) > NUMBER_MAX or not NUMBER.match(value):
            raise ValueError(f"{field.label}: enter a number, such as 42 or 3.5")
        return value.replace(",", ".")
    if len(value) > TEXT_MAX or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{field.label}: at most {TEXT_MAX} characters, on one line")
    return value


def answered(fields: Iterable[CustomField], given: Callable[[CustomField], object]) -> list[dict]:
    """Every field's answer as kept with the order ({key, label, value}), or raise
    FieldRefused for the first field whose answer is refused."""
    kept = []
    for field in fields:
        try:
            value = answer(field, given(field))
        except ValueError as error:
            raise FieldRefused(field, str(error)) from None
        kept.append({"key": field.key, "label": field.label, "value": value})
    return kept


def from_provider(fields: tuple[CustomField, ...], sent: list[dict]) -> list[dict]:
    """The answers a provider sent when opening an order ([{key, value}]): every required
    field answered, no key twice or unknown; or raise ValidationError (`custom_fields`)."""
    values: dict[str, object] = {}
    known = {field.key for field in fields}
    for item in sent:
        key = item.get("key")
        if key not in known:
            raise ValidationError(SETTING, f"{key!r} is not one of the service's custom fields")
        if key in values:
            raise ValidationError(SETTING, f"{key!r} is answered twice")
        values[key] = item.get("value")
    try:
        return answered(fields, lambda field: values.get(field.key))
    except FieldRefused as refused:
        raise ValidationError(SETTING, f"{refused.custom_field.key}: {refused.message}") from None
