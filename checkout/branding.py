"""A provider's branding on customer pages: the name customers see, an accent colour (and
the text colour that reads on it), and a logo that is checked, kept in the database and
served by Kassa itself.

The accent colour is never refused for its contrast: the text on it is white when white
passes WCAG AA (4.5:1), and black otherwise, which then always passes (at least 4.58:1).
"""

import hashlib
import re
import struct
import zlib
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

import png
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from checkout import audit
from checkout.audit import Action, Actor
from checkout.errors import ValidationError
from checkout.extensions import db
from checkout.models import Provider

ACCENT_PATTERN = re.compile(r"^#[0-9a-f]{6}$")
WHITE = "#ffffff"
BLACK = "#000000"
AA_NORMAL_TEXT = 4.5

LOGO_MAX_BYTES = 200 * 1024
LOGO_MAX_PIXELS = 2048
PNG = "image/png"
SVG = "image/svg+xml"
EXTENSIONS = {PNG: "png", SVG: "svg"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
# Elements that run script or pull in other documents; refused wherever they appear.
REFUSED_ELEMENTS = {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener"}
HREF_ATTRIBUTES = {"href", "{http://www.w3.org/1999/xlink}href"}
CSS_URL = re.compile(r"url\s*\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)

AUDITED = ("display_name", "accent_color", "logo_type", "logo_hash")


# Colour


def _channel(value: int) -> float:
    """One sRGB channel (0-255), linearised as WCAG 2.x defines it."""
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """WCAG relative luminance of a #rrggbb colour: 0 for black, 1 for white."""
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours, from 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_color_on(accent: str) -> str:
    """White if it passes AA on the accent, otherwise black (which then passes)."""
    return WHITE if contrast_ratio(accent, WHITE) >= AA_NORMAL_TEXT else BLACK


def clean_accent(value: str | None) -> str | None:
    """A #rrggbb colour in lowercase, or None for Kassa's own colours."""
    value = (value or "").strip().lower()
    if not value:
        return None
    if not ACCENT_PATTERN.match(value):
        raise ValidationError("accent_color", "Give the accent colour as #rrggbb, e.g. #0b5fff")
    return value


# Logo


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a well-formed PNG (every chunk's CRC checked), or ValidationError."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ValidationError("logo", "The PNG file is damaged: it has no image header")
    width, height = struct.unpack(">II", data[16:24])
    try:
        chunk_types = [kind for kind, _ in png.Reader(bytes=data).chunks()]
    except (png.Error, ValueError, struct.error, zlib.error):
        raise ValidationError("logo", "The PNG file is damaged") from None
    if b"IDAT" not in chunk_types:
        raise ValidationError("logo", "The PNG file is damaged: it has no image data")
    return width, height


def _check_png(data: bytes) -> None:
    width, height = _png_size(data)
    if not (1 <= width <= LOGO_MAX_PIXELS and 1 <= height <= LOGO_MAX_PIXELS):
        raise ValidationError(
            "logo",
            f"The PNG is {width}×{height} pixels; "
            f"a logo may be at most {LOGO_MAX_PIXELS}×{LOGO_MAX_PIXELS}",
        )


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _external_reference(value: str) -> bool:
    """Whether an href or CSS url() points outside the document (anything but #fragment)."""
    return not value.strip().startswith("#")


def _check_svg(data: bytes) -> None:
    if b"<?xml-stylesheet" in data:
        raise ValidationError("logo", "An SVG logo may not load a stylesheet")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError):
        raise ValidationError(
            "logo", "The SVG is not well-formed XML (or declares a DTD or entities)"
        ) from None
    if root.tag != f"{{{SVG_NAMESPACE}}}svg":
        raise ValidationError(
            "logo", f'An SVG logo must have an <svg> root in the namespace "{SVG_NAMESPACE}"'
        )
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = _local_name(element.tag)
        if name in REFUSED_ELEMENTS:
            raise ValidationError("logo", f"An SVG logo may not contain <{name}>")
        for attribute, value in element.attrib.items():
            attribute_name = _local_name(attribute)
            if attribute_name.startswith("on"):
                raise ValidationError(
                    "logo", f"An SVG logo may not have event handlers ({attribute_name})"
                )
            if attribute in HREF_ATTRIBUTES and _external_reference(value):
                raise ValidationError("logo", "An SVG logo may only link inside itself (#id)")
            animates_link = value.rsplit(":", 1)[-1].lower() == "href"
            if name in ("set", "animate") and attribute_name == "attributename" and animates_link:
                raise ValidationError("logo", "An SVG logo may not animate links")
        css = " ".join(
            filter(None, [element.get("style"), element.text if name == "style" else ""])
        )
        if "@import" in css.lower() or any(
            _external_reference(url) for url in CSS_URL.findall(css)
        ):
            raise ValidationError("logo", "An SVG logo may not load other files from its CSS")


def check_logo(data: bytes) -> str:
    """The content type of an acceptable logo (PNG or SVG), or ValidationError saying why not."""
    if not data:
        raise ValidationError("logo", "The logo file is empty")
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(
            "logo", f"The logo is larger than {LOGO_MAX_BYTES // 1024} KB, the most a logo may be"
        )
    if data.startswith(PNG_SIGNATURE):
        _check_png(data)
        return PNG
    if b"<svg" in data[:4096] or data.lstrip().startswith(b"<?xml"):
        _check_svg(data)
        return SVG
    raise ValidationError("logo", "The logo must be a PNG or an SVG image")


def logo_path(provider: Provider) -> str | None:
    """Where Kassa serves the provider's logo; the path changes whenever the logo does."""
    if not provider.logo_hash or provider.logo_type not in EXTENSIONS:
        return None
    return f"/brand/{provider.id}/logo-{provider.logo_hash}.{EXTENSIONS[provider.logo_type]}"


# Changing the branding


@dataclass
class BrandingChanges:
    """What to change; None keeps a value, "" clears it (back to the default)."""

    display_name: str | None = None
    accent_color: str | None = None
    logo: bytes | None = None
    remove_logo: bool = False


def set_branding(provider: Provider, changes: BrandingChanges, *, actor: Actor) -> Provider:
    """Check every change, then apply them all at once, or raise ValidationError and change
    nothing."""
    if changes.logo is not None and changes.remove_logo:
        raise ValidationError("logo", "Upload a new logo or remove the logo, not both")
    updates: dict = {}
    if changes.display_name is not None:
        name = changes.display_name.strip()
        if any(ord(char) < 32 for char in name):
            raise ValidationError(
                "display_name", "The display name may not hold control characters"
            )
        if len(name) > 120:
            raise ValidationError("display_name", "The display name must be at most 120 characters")
        updates["display_name"] = name or None
    if changes.accent_color is not None:
        updates["accent_color"] = clean_accent(changes.accent_color)
    if changes.logo is not None:
        updates["logo_type"] = check_logo(changes.logo)
        updates["logo"] = changes.logo
        updates["logo_hash"] = hashlib.sha256(changes.logo).hexdigest()[:16]
    elif changes.remove_logo:
        updates.update(logo=None, logo_type=None, logo_hash=None)
    before = audit.snapshot(provider, AUDITED)
    for name, value in updates.items():
        setattr(provider, name, value)
    detail = audit.changes(before, audit.snapshot(provider, AUDITED))
    if detail:
        audit.record(actor, Action.BRANDING_CHANGED, "provider", provider.id, **detail)
    db.session.commit()
    return provider


# What customer pages show


@dataclass(frozen=True)
class Brand:
    """A seller's look on a customer page; every value checked, safe in an attribute."""

    name: str
    accent: str | None
    accent_text: str | None
    logo_url: str | None

    @property
    def style(self) -> str:
        """The inline CSS custom properties of the page's accent (empty without one)."""
        if not self.accent:
            return ""
        return f"--brand:{self.accent};--brand-ink:{self.accent_text}"


def brand(provider: Provider | None) -> Brand | None:
    """The provider's brand for a page; None (Kassa's own look) without a provider."""
    if provider is None:
        return None
    # Checked again on the way out: only a colour that matches reaches the style attribute.
    accent = provider.accent_color if ACCENT_PATTERN.match(provider.accent_color or "") else None
    return Brand(
        name=provider.public_name,
        accent=accent,
        accent_text=text_color_on(accent) if accent else None,
        logo_url=logo_path(provider),
    )
