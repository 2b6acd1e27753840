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

from checkout import audit, urls
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
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# What a logo may be made of: shapes, text, paint servers, clipping, masks, markers and
# filters that draw from the logo itself. Nothing that runs script, animates, embeds or
# loads (script, foreignObject, image, feImage, a, set, animate, iframe...) is here.
SVG_ELEMENTS = frozenset({
    "svg", "g", "defs", "symbol", "use", "title", "desc", "metadata", "style", "switch", "path",
    "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan", "textPath",
    "linearGradient", "radialGradient", "stop", "pattern", "clipPath", "mask", "marker",
    "filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feDropShadow",
    "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR", "feGaussianBlur", "feMerge",
    "feMergeNode", "feMorphology", "feOffset"
})  # fmt: skip
# Geometry, text layout, paint and presentation; no event handlers, no xml:base.
SVG_ATTRIBUTES = frozenset({
    "id", "class", "style", "lang", "role", "tabindex", "focusable", "version", "baseProfile",
    "viewBox", "preserveAspectRatio", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx",
    "ry", "fx", "fy", "fr", "width", "height", "d", "points", "pathLength", "transform",
    "transform-origin", "href", "dx", "dy", "rotate", "textLength", "lengthAdjust",
    "startOffset", "method", "spacing", "side", "offset", "gradientUnits", "gradientTransform",
    "spreadMethod", "patternUnits", "patternContentUnits", "patternTransform", "clipPathUnits",
    "maskUnits", "maskContentUnits", "markerWidth", "markerHeight", "markerUnits", "refX",
    "refY", "orient", "filterUnits", "primitiveUnits", "in", "in2", "result", "stdDeviation",
    "mode", "values", "type", "operator", "k1", "k2", "k3", "k4", "radius", "edgeMode",
    "tableValues", "slope", "intercept", "amplitude", "exponent", "media", "fill",
    "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
    "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "opacity",
    "color", "display", "visibility", "overflow", "clip", "clip-path", "clip-rule", "mask",
    "filter", "flood-color", "flood-opacity", "lighting-color", "stop-color", "stop-opacity",
    "font", "font-family", "font-size", "font-size-adjust", "font-weight", "font-style",
    "font-variant", "font-stretch", "text-anchor", "dominant-baseline", "alignment-baseline",
    "baseline-shift", "letter-spacing", "word-spacing", "text-decoration", "writing-mode",
    "direction", "unicode-bidi", "shape-rendering", "text-rendering", "image-rendering",
    "color-rendering", "color-interpolation", "color-interpolation-filters", "paint-order",
    "vector-effect", "isolation", "mix-blend-mode", "marker-start", "marker-mid", "marker-end",
    "enable-background", "aria-label", "aria-labelledby", "aria-describedby", "aria-hidden",
    "requiredExtensions", "requiredFeatures", "systemLanguage"
})  # fmt: skip
NAMESPACED_ATTRIBUTES = {XLINK_HREF, f"{{{XML_NAMESPACE}}}space", f"{{{XML_NAMESPACE}}}lang"}
# Editors put licence data inside <metadata> in these vocabularies, which nothing renders.
METADATA_NAMESPACES = {
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://purl.org/dc/elements/1.1/",
    "http://creativecommons.org/ns#",
    "http://web.resource.org/cc/",
}
XML_DECLARATION = re.compile(r"<\?xml[ \t\r\n][^<>]*?\?>")
DECLARED_ENCODING = re.compile(r"""encoding\s*=\s*["']([^"']*)["']""")
# How UTF-16 and UTF-32 text begins: a byte order mark, or a "<" beside NUL bytes.
WIDE_TEXT_STARTS = (
    b"\xff\xfe",
    b"\xfe\xff",
    b"\x00\x00\xfe\xff",
    b"<\x00",
    b"\x00<",
    b"\x00\x00\x00<",
)
# A CSS escape: up to six hex digits and one whitespace after them, or any one character.
CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\r\n\f]?|(.))", re.DOTALL)
CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
# A CSS reference to a file or a place (url() and CSS 4's src()); only #id stays inside.
CSS_REFERENCE = re.compile(r"(?<![\w-])(?:-[a-z]+-)?(?:url|src)\(\s*['\"]?\s*(.?)", re.I)
# What loads a file from a string as well as from url(): refused outright.
CSS_LOADS = re.compile(
    r"@import|(?<![\w-])(?:-[a-z]+-)?(?:image-set|image|cross-fade|expression)\(", re.I
)

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


def _css_unescaped(css: str) -> str:
    """CSS text as the browser reads it: escapes resolved (u\\72l( is url(), comments out."""

    def character(match: re.Match) -> str:
        if match[2] is not None:
            return "" if match[2] in "\r\n\f" else match[2]
        code = int(match[1], 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"

    return CSS_COMMENT.sub(" ", CSS_ESCAPE.sub(character, css))


def _loads_from_css(css: str) -> bool:
    """Whether CSS (a style sheet, a style attribute or any attribute's value) would load or
    point at anything but an element of the logo itself (url(#id))."""
    text = _css_unescaped(css)
    return bool(CSS_LOADS.search(text)) or any(
        target != "#" for target in CSS_REFERENCE.findall(text)
    )


def _svg_text(data: bytes) -> str:
    """The SVG as UTF-8 text, or ValidationError: another encoding (which the byte checks
    could not read), NUL bytes, or a processing instruction such as <?xml-stylesheet?>."""
    if b"\x00" in data or data.startswith(WIDE_TEXT_STARTS):
        raise ValidationError("logo", "An SVG logo must be saved as UTF-8 text")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ValidationError("logo", "An SVG logo must be saved as UTF-8 text") from None
    declaration = XML_DECLARATION.match(text)
    if declaration:
        encoding = DECLARED_ENCODING.search(declaration[0])
        if encoding and encoding[1].lower() != "utf-8":
            raise ValidationError("logo", "An SVG logo must be saved as UTF-8 text")
    if "<?" in text[declaration.end() if declaration else 0 :]:
        raise ValidationError(
            "logo",
            "An SVG logo may not hold processing instructions "
            "(<?xml-stylesheet?> would load a stylesheet)",
        )
    return text


def _split(tag: str) -> tuple[str, str]:
    """An element's or attribute's namespace ("" for none) and local name."""
    namespace, _, local = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
    return namespace, local


def _check_svg_attribute(element: str, attribute: str, value: str) -> None:
    namespace, name = _split(attribute)
    if name.lower().startswith("on"):
        raise ValidationError("logo", f"An SVG logo may not have event handlers ({name})")
    allowed = (
        attribute in NAMESPACED_ATTRIBUTES
        if namespace
        else name in SVG_ATTRIBUTES or name.startswith("data-")
    )
    if not allowed:
        raise ValidationError(
            "logo", f"An SVG logo may not have the attribute {name} on <{element}>"
        )
    if attribute in ("href", XLINK_HREF) and not value.strip().startswith("#"):
        raise ValidationError("logo", "An SVG logo may only link inside itself (#id)")
    if _loads_from_css(value):
        raise ValidationError("logo", "An SVG logo may not load other files from its CSS")


def _check_svg_element(element, in_metadata: bool) -> None:
    """One element: its kind, its attributes and its style sheet."""
    namespace, name = _split(element.tag)
    if namespace != SVG_NAMESPACE:
        if not (in_metadata and namespace in METADATA_NAMESPACES):
            raise ValidationError(
                "logo",
                f"An SVG logo may hold only SVG elements, not <{name}> from "
                f'"{namespace or "no namespace"}" (save it as a plain SVG)',
            )
        return
    if name not in SVG_ELEMENTS:
        raise ValidationError("logo", f"An SVG logo may not contain <{name}>")
    for attribute, value in element.attrib.items():
        _check_svg_attribute(name, attribute, value)
    if name == "style" and _loads_from_css("".join(element.itertext())):
        raise ValidationError("logo", "An SVG logo may not load other files from its CSS")


def _check_svg(data: bytes) -> None:
    text = _svg_text(data)
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError):
        raise ValidationError(
            "logo", "The SVG is not well-formed XML (or declares a DTD or entities)"
        ) from None
    if root.tag != f"{{{SVG_NAMESPACE}}}svg":
        raise ValidationError(
            "logo", f'An SVG logo must have an <svg> root in the namespace "{SVG_NAMESPACE}"'
        )
    # Element by element in document order, without recursion (nesting may be deep).
    pending = [(root, False)]
    while pending:
        element, in_metadata = pending.pop()
        _check_svg_element(element, in_metadata)
        inside = in_metadata or element.tag == f"{{{SVG_NAMESPACE}}}metadata"
        pending.extend((child, inside) for child in reversed(element))


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
    if b"<svg" in data[:4096] or data.lstrip().startswith((b"<?xml", *WIDE_TEXT_STARTS)):
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


def in_mail(provider: Provider | None) -> dict[str, str | None]:
    """What a mail from this seller shows of its brand: the seller's name (Kassa without
    one), the accent colour, and the logo at an absolute URL (only with BASE_URL set: a
    mail has no page to be relative to)."""
    look = brand(provider)
    base = urls.base_url() if urls.base_url_is_configured() else None
    return {
        "seller": look.name if look else "Kassa",
        "accent": look.accent if look else None,
        "logo_url": base + look.logo_url if base and look and look.logo_url else None,
    }
