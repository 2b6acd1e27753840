"""Branding per provider: a display name, an accent colour whose text always passes WCAG AA,
and a PNG or SVG logo that is checked, stored in the database and served by Kassa with its
own locked-down headers, shown on the checkout, link, password and unavailable pages."""

import io
import json
import re

import png
import pytest

from checkout import branding
from tests.helpers import (
    api_new_order,
    create_link,
    csrf_token,
    form_post,
    order_from,
    pay_link,
    simulate,
)

ADMIN = "admin@example.com"


def png_bytes(width: int = 40, height: int = 20) -> bytes:
    """A real greyscale PNG of the given size."""
    out = io.BytesIO()
    rows = [[(x * 7 + y) % 256 for x in range(width)] for y in range(height)]
    png.Writer(width, height, greyscale=True).write(out, rows)
    return out.getvalue()


def svg_bytes(inner: str = '<rect width="10" height="10" fill="#123456"/>', root="svg") -> bytes:
    return (
        f'<{root} xmlns="http://www.w3.org/2000/svg" '
        f'xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10">{inner}</{root}>'
    ).encode()


def save_branding(admin_client, provider_id: str, logo: bytes | None = None, **fields):
    """Submit the provider's branding form (multipart, as the browser sends it)."""
    page = f"/admin/providers/{provider_id}/branding"
    data = {"csrf_token": csrf_token(admin_client.get(page).text), **fields}
    if logo is not None:
        data["logo_file"] = (io.BytesIO(logo), "logo")
    return admin_client.post(page, data=data, content_type="multipart/form-data")


def logo_url(html: str) -> str | None:
    match = re.search(r'src="(/brand/prv_[0-9a-f]+/logo-[0-9a-f]{16}\.(?:png|svg))"', html)
    return match[1] if match else None


def accent_style(html: str) -> str | None:
    match = re.search(r'style="(--brand:[^"]*)" data-brand-accent', html)
    return match[1] if match else None


@pytest.fixture
def provider(make):
    """A provider and its API key."""
    return make.provider(name="Bitloader")


# Contrast, by WCAG's formula


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    [
        ("#00a250", "#ffffff", 3.34),
        ("#767676", "#ffffff", 4.54),
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#000000", 21.0),
        ("#777777", "#777777", 1.0),
        ("#0000ff", "#ffffff", 8.59),
    ],
)
def test_contrast_ratio_follows_the_wcag_luminance_formula(first, second, ratio):
    assert round(branding.contrast_ratio(first, second), 2) == ratio


def test_relative_luminance_of_black_white_and_a_grey():
    assert branding.relative_luminance("#000000") == 0
    assert branding.relative_luminance("#ffffff") == pytest.approx(1)
    assert branding.relative_luminance("#808080") == pytest.approx(0.2159, abs=1e-4)


@pytest.mark.parametrize(
    ("accent", "ink"),
    [
        ("#767676", "#ffffff"),  # white passes (4.54:1)
        ("#00a250", "#000000"),  # white fails (3.34:1): black text instead (6.29:1)
        ("#ffd800", "#000000"),
        ("#0b5fff", "#ffffff"),
    ],
)
def test_text_on_the_accent_is_white_when_it_passes_aa_and_black_otherwise(accent, ink):
    assert branding.text_color_on(accent) == ink
    assert branding.contrast_ratio(accent, ink) >= 4.5


def test_every_grey_gets_a_text_colour_that_passes_aa():
    for level in range(256):
        accent = f"#{level:02x}{level:02x}{level:02x}"
        assert branding.contrast_ratio(accent, branding.text_color_on(accent)) >= 4.5, accent


# Admin: saving branding and what the pages show


def test_display_name_accent_and_png_logo_show_on_the_checkout_page(admin_client, client, provider):
    provider_id, key = provider.id, provider.api_key
    response = save_branding(
        admin_client,
        provider_id,
        png_bytes(),
        display_name="Bitloader Games",
        accent_color="#00A250",
    )
    assert response.status_code == 302, response.text
    order_id = api_new_order(client, key)

    page = client.get(f"/checkout?orderId={order_id}").text

    assert "Bitloader Games" in page
    # White on #00a250 fails AA (3.34:1), so the button's text is black.
    assert accent_style(page) == "--brand:#00a250;--brand-ink:#000000"
    url = logo_url(page)
    assert url and url.endswith(".png")
    logo = client.get(url)
    assert logo.status_code == 200
    assert logo.data == png_bytes()
    assert logo.headers["Content-Type"] == "image/png"


def test_the_paid_page_keeps_the_branding(admin_client, client, provider):
    provider_id, key = provider.id, provider.api_key
    save_branding(admin_client, provider_id, svg_bytes(), accent_color="#0b5fff")
    order_id = api_new_order(client, key)
    simulate(client, order_id)

    page = client.get(f"/checkout?orderId={order_id}").text

    assert "Payment received" in page
    assert accent_style(page) == "--brand:#0b5fff;--brand-ink:#ffffff"
    assert logo_url(page)


def test_logo_is_served_as_an_image_only_with_a_sandbox_csp_and_nosniff(
    admin_client, client, provider
):
    provider_id = provider.id
    save_branding(admin_client, provider_id, svg_bytes())
    url = logo_url(admin_client.get(f"/admin/providers/{provider_id}").text)

    logo = client.get(url)

    assert logo.status_code == 200
    assert logo.data == svg_bytes()
    assert logo.headers["Content-Type"] == "image/svg+xml"
    assert logo.headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    assert logo.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_the_logo_url_changes_with_the_logo_and_the_old_one_is_gone(admin_client, client, provider):
    provider_id = provider.id
    save_branding(admin_client, provider_id, png_bytes(40, 20))
    first = logo_url(admin_client.get(f"/admin/providers/{provider_id}").text)
    save_branding(admin_client, provider_id, png_bytes(60, 30))
    second = logo_url(admin_client.get(f"/admin/providers/{provider_id}").text)

    assert first != second
    assert client.get(second).data == png_bytes(60, 30)
    assert client.get(first).status_code == 404
    assert client.get(second.replace(".png", ".svg")).status_code == 404


def test_removing_the_logo_stops_serving_it(admin_client, client, provider):
    provider_id, key = provider.id, provider.api_key
    save_branding(admin_client, provider_id, png_bytes())
    url = logo_url(admin_client.get(f"/admin/providers/{provider_id}").text)

    response = save_branding(admin_client, provider_id, remove_logo="y")

    assert response.status_code == 302
    assert client.get(url).status_code == 404
    assert logo_url(client.get(f"/checkout?orderId={api_new_order(client, key)}").text) is None


def test_saving_without_a_file_keeps_the_logo(admin_client, provider):
    provider_id = provider.id
    save_branding(admin_client, provider_id, png_bytes())
    url = logo_url(admin_client.get(f"/admin/providers/{provider_id}").text)

    save_branding(admin_client, provider_id, display_name="Renamed")

    page = admin_client.get(f"/admin/providers/{provider_id}").text
    assert logo_url(page) == url
    assert "Renamed" in page


def test_display_name_defaults_to_the_provider_name(admin_client, client, provider):
    provider_id, key = provider.id, provider.api_key
    save_branding(admin_client, provider_id, display_name="Shown Name")
    save_branding(admin_client, provider_id, display_name="")

    page = client.get(f"/checkout?orderId={api_new_order(client, key)}").text

    assert re.search(r"data-brand-name>Bitloader<", page)
    assert accent_style(page) is None  # no accent: Kassa's own colours


def test_link_password_and_unavailable_pages_show_the_seller(admin_client, client, make):
    service_id = make.service()
    provider_id = make.provider(service_id=service_id, name="Bitloader").id
    save_branding(
        admin_client,
        provider_id,
        svg_bytes(),
        display_name="Bitloader Shop",
        accent_color="#333333",
    )
    open_link = create_link(admin_client, service_id, provider_id=provider_id)
    locked = create_link(admin_client, service_id, provider_id=provider_id, password="hunter22")
    closed = create_link(admin_client, service_id, provider_id=provider_id, active="")

    for link_id, status, marker in [
        (open_link, 200, "data-link"),
        (locked, 200, "This payment link is protected"),
        (closed, 410, 'data-unavailable="inactive"'),
    ]:
        response = client.get(f"/l/{link_id}")
        assert response.status_code == status, link_id
        assert marker in response.text
        assert "Bitloader Shop" in response.text
        assert logo_url(response.text)
        assert accent_style(response.text) == "--brand:#333333;--brand-ink:#ffffff"


def test_the_checkout_of_a_link_turned_off_shows_the_seller(admin_client, client, make):
    service_id = make.service()
    provider_id = make.provider(service_id=service_id, name="Bitloader").id
    save_branding(admin_client, provider_id, png_bytes(), accent_color="#333333")
    link_id = create_link(admin_client, service_id, provider_id=provider_id)
    order_id = order_from(pay_link(client, link_id))
    page = f"/admin/links/{link_id}"
    token = csrf_token(admin_client.get(page).text)
    assert admin_client.post(f"{page}/deactivate", data={"csrf_token": token}).status_code == 302

    response = client.get(f"/checkout?orderId={order_id}")

    assert response.status_code == 410
    assert 'data-unavailable="inactive"' in response.text
    assert logo_url(response.text)
    assert accent_style(response.text) == "--brand:#333333;--brand-ink:#ffffff"


def test_a_link_without_a_provider_has_kassas_own_look(admin_client, client, make):
    service_id = make.service()
    link_id = create_link(admin_client, service_id)

    page = client.get(f"/l/{link_id}").text

    assert "data-brand" not in page
    assert "--brand" not in page


def test_the_logo_fits_the_page_csp(admin_client, client, provider):
    """The logo is same-origin (img-src 'self') and the accent an inline style attribute
    (style-src 'unsafe-inline'), so the page's policy lets both through."""
    provider_id, key = provider.id, provider.api_key
    save_branding(admin_client, provider_id, png_bytes(), accent_color="#0b5fff")
    response = client.get(f"/checkout?orderId={api_new_order(client, key)}")

    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert "'self'" in policy["img-src"].split()
    assert "'unsafe-inline'" in policy["style-src"].split()
    assert logo_url(response.text).startswith("/")


def test_a_branding_change_is_audited_with_the_admin(admin_client, provider):
    provider_id = provider.id
    save_branding(admin_client, provider_id, png_bytes(), accent_color="#0b5fff")

    page = admin_client.get(
        "/admin/audit", query_string={"action": "provider.branding_changed"}
    ).text

    assert page.count('data-action="provider.branding_changed"') == 1
    assert ADMIN in page
    assert "#0b5fff" in page
    assert "image/png" in page


# Refused input: 422, a clear message, nothing stored


def _unchanged(admin_client, provider_id: str) -> None:
    page = admin_client.get(f"/admin/providers/{provider_id}").text
    assert logo_url(page) is None
    assert re.search(r"data-shown-as>Bitloader<", page)
    audit = admin_client.get("/admin/audit", query_string={"action": "provider.branding_changed"})
    assert 'data-action="provider.branding_changed"' not in audit.text


BAD_LOGOS = {
    "oversize": (b"\x89PNG\r\n\x1a\n" + bytes(205 * 1024), "larger than 200 KB"),
    "too many pixels": (png_bytes(2049, 1), "at most 2048×2048"),
    "gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "must be a PNG or an SVG"),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "must be a PNG or an SVG"),
    "html": (b"<html><script>alert(1)</script></html>", "must be a PNG or an SVG"),
    "damaged png": (png_bytes()[:-20] + b"\x00" * 20, "damaged"),
    "png without header": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "damaged"),
    "empty": (b"", "empty"),
    "svg with script": (svg_bytes("<script>alert(1)</script>"), "may not contain &lt;script&gt;"),
    "svg with onload": (
        svg_bytes('<rect width="1" height="1" onload="alert(1)"/>'),
        "event handlers (onload)",
    ),
    "svg with foreignObject": (
        svg_bytes("<foreignObject><p>hi</p></foreignObject>"),
        "may not contain &lt;foreignObject&gt;",
    ),
    "svg linking out": (
        svg_bytes('<use href="https://evil.example/x.svg#a"/>'),
        "may only link inside itself",
    ),
    "svg xlink to javascript": (
        svg_bytes('<use xlink:href="javascript:alert(1)"/>'),
        "may only link inside itself",
    ),
    "svg image": (
        svg_bytes('<image href="#x" width="1" height="1"/>'),
        "may not contain &lt;image&gt;",
    ),
    "svg link": (
        svg_bytes('<a href="#x"><rect width="1" height="1"/></a>'),
        "may not contain &lt;a&gt;",
    ),
    "svg css url": (
        svg_bytes('<rect style="fill:url(https://evil.example/f)" width="1" height="1"/>'),
        "may not load other files from its CSS",
    ),
    "svg css import": (
        svg_bytes("<style>@import 'https://evil.example/a.css';</style>"),
        "may not load other files from its CSS",
    ),
    "svg animating a link": (
        svg_bytes('<use href="#x"><set attributeName="href" to="javascript:alert(1)"/></use>'),
        "may not contain &lt;set&gt;",
    ),
    "svg stylesheet": (
        b'<?xml-stylesheet href="https://evil.example/s.css"?>' + svg_bytes(),
        "may not hold processing instructions",
    ),
    # The CSS and XML tricks of issue 17: escapes, other loaders, paint attributes, encodings.
    "svg css escaped import": (
        svg_bytes("<style>@\\69mport 'https://evil.example/a.css';</style>"),
        "may not load other files from its CSS",
    ),
    "svg css escaped url": (
        svg_bytes('<rect style="fill:u\\72l(https://evil.example/f)" width="1" height="1"/>'),
        "may not load other files from its CSS",
    ),
    "svg css escaped url in a style sheet": (
        svg_bytes("<style>rect { fill: \\75 rl('//evil.example/f') }</style>"),
        "may not load other files from its CSS",
    ),
    "svg css image-set": (
        svg_bytes("<style>rect { fill: image-set('https://evil.example/f.png' 1x) }</style>"),
        "may not load other files from its CSS",
    ),
    "svg paint attribute url": (
        svg_bytes('<rect fill="url(https://evil.example/f#p)" width="1" height="1"/>'),
        "may not load other files from its CSS",
    ),
    "svg paint attribute escaped url": (
        svg_bytes('<rect filter="U\\52L(//evil.example/f#x)" width="1" height="1"/>'),
        "may not load other files from its CSS",
    ),
    "svg utf-16 stylesheet": (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<?xml-stylesheet href="https://evil.example/s.css"?>'
        '<svg xmlns="http://www.w3.org/2000/svg"><!-- \u733c\u6776 --></svg>'.encode("utf-16"),
        "must be saved as UTF-8 text",
    ),
    "svg utf-16 without a byte order mark": (
        svg_bytes().decode().encode("utf-16-le"),
        "must be saved as UTF-8 text",
    ),
    "svg declared latin-1": (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>' + svg_bytes(),
        "must be saved as UTF-8 text",
    ),
    "svg processing instruction inside": (
        svg_bytes('<?xml-stylesheet href="#s"?><rect width="1" height="1"/>'),
        "may not hold processing instructions",
    ),
    "svg attribute off the list": (
        svg_bytes('<g xml:base="https://evil.example/"><rect width="1" height="1"/></g>'),
        "may not have the attribute base on &lt;g&gt;",
    ),
    "svg xhtml script in metadata": (
        svg_bytes(
            '<metadata><script xmlns="http://www.w3.org/1999/xhtml">alert(1)</script></metadata>'
        ),
        "may hold only SVG elements, not &lt;script&gt;",
    ),
    "malformed svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', "not well-formed"),
    "svg with entities": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg">&b;</svg>',
        "declares a DTD or entities",
    ),
    "svg without namespace": (b"<svg><rect/></svg>", "must have an &lt;svg&gt; root"),
    "xml that is not svg": (
        svg_bytes(root="html").replace(b"<html", b"<?xml version='1.0'?><html"),
        "must have an &lt;svg&gt; root",
    ),
}


# What editors write for a logo: a declaration (and BOM), licence metadata, a title,
# gradients and clips by #id from attributes and CSS, text, a simple filter.
EXPORTED_LOGO = (
    "\ufeff<?xml version='1.0' encoding='UTF-8' standalone='no'?>\n"
    "<!-- Generator: an editor -->\n"
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:cc="http://creativecommons.org/ns#" '
    'version="1.1" viewBox="0 0 120 40" width="120" height="40" xml:space="preserve" '
    'role="img" aria-labelledby="t" enable-background="new 0 0 120 40">'
    '<title id="t">Bitloader</title>'
    '<metadata><rdf:RDF><cc:Work rdf:about=""><dc:format>image/svg+xml</dc:format>'
    "</cc:Work></rdf:RDF></metadata>"
    "<defs><style type=\"text/css\"><![CDATA[ .a { fill: url( '#g' ); stroke: #000 } ]]>"
    "</style>"
    '<linearGradient id="g" x1="0" x2="1"><stop offset="0" stop-color="#6b21a8"/>'
    '<stop offset="1" style="stop-color:rgb(11,95,255)"/></linearGradient>'
    '<clipPath id="c"><rect width="120" height="40" rx="6"/></clipPath>'
    '<filter id="f"><feGaussianBlur in="SourceGraphic" stdDeviation="1"/></filter></defs>'
    '<g clip-path="url(#c)" data-name="Layer 1" transform="translate(0 0)">'
    '<rect class="a" width="120" height="40"/>'
    '<path d="M10 30 L20 10 L30 30 Z" fill="url(#g)" filter="url(#f)"/>'
    '<use xlink:href="#t"/>'
    '<text x="40" y="26" font-family="sans-serif" font-size="14" fill="#fff">'
    'Bit<tspan font-weight="bold">loader</tspan></text></g></svg>'
).encode()


def test_a_logo_as_editors_export_it_is_accepted(admin_client, client, provider):
    provider_id = provider.id

    response = save_branding(admin_client, provider_id, EXPORTED_LOGO)

    assert response.status_code == 302, response.text
    url = logo_url(admin_client.get(f"/admin/providers/{provider_id}").text)
    assert client.get(url).data == EXPORTED_LOGO


def test_a_deeply_nested_svg_is_checked_without_recursion(admin_client, provider):
    provider_id = provider.id
    nested = svg_bytes("<g>" * 20_000 + '<set attributeName="fill"/>' + "</g>" * 20_000)

    response = save_branding(admin_client, provider_id, nested)

    assert response.status_code == 422
    assert "may not contain &lt;set&gt;" in response.text


@pytest.mark.parametrize("case", BAD_LOGOS)
def test_a_refused_logo_answers_422_and_changes_nothing(admin_client, provider, case):
    data, message = BAD_LOGOS[case]
    provider_id = provider.id

    response = save_branding(admin_client, provider_id, data, display_name="Should not stick")

    assert response.status_code == 422
    assert message in response.text
    _unchanged(admin_client, provider_id)


@pytest.mark.parametrize(
    "accent",
    [
        "red;}body{display:none",
        "#00a250;}body{display:none",
        'red" onmouseover="alert(1)',
        "#fff",
        "#12345g",
        "red",
        "00a250",
        "#00a2500",
        "var(--x)",
    ],
)
def test_an_accent_that_is_not_rrggbb_is_refused(admin_client, provider, accent):
    provider_id = provider.id

    response = save_branding(admin_client, provider_id, accent_color=accent)

    assert response.status_code == 422
    assert "#rrggbb" in response.text
    _unchanged(admin_client, provider_id)


def test_an_upload_beyond_the_route_limit_is_413_and_other_forms_keep_64_kib(
    admin_client, provider
):
    provider_id = provider.id
    big = save_branding(admin_client, provider_id, bytes(300 * 1024))
    assert big.status_code == 413
    assert "larger than 256 KiB" in big.text

    # 100 KB is accepted by the branding route (and refused by its rules)...
    assert save_branding(admin_client, provider_id, bytes(100 * 1024)).status_code == 422
    # ...but not by any other form.
    edit = form_post(
        admin_client,
        f"/admin/providers/{provider_id}/edit",
        {"name": "x" * (100 * 1024)},
    )
    assert edit.status_code == 413
    assert "larger than 64 KiB" in edit.text
    _unchanged(admin_client, provider_id)


def test_the_branding_form_needs_its_csrf_token(admin_client, provider):
    provider_id = provider.id
    response = admin_client.post(
        f"/admin/providers/{provider_id}/branding",
        data={"display_name": "Forged", "logo_file": (io.BytesIO(png_bytes()), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (400, 422)
    _unchanged(admin_client, provider_id)


# CLI


def test_cli_sets_and_removes_branding(runner, client, make, tmp_path):
    make.provider(name="Bitloader", slug="bitloader")
    logo = tmp_path / "logo.svg"
    logo.write_bytes(svg_bytes())

    result = runner.invoke(
        args=[
            "providers",
            "set-branding",
            "bitloader",
            "--display-name",
            "Bitloader Games",
            "--accent",
            "#00A250",
            "--logo",
            str(logo),
            "--json",
        ]
    )

    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["shownAs"] == "Bitloader Games"
    assert shown["accentColor"] == "#00a250"
    assert shown["accentTextColor"] == "#000000"
    assert shown["logoType"] == "image/svg+xml"
    path = re.sub(r"^https?://[^/]+", "", shown["logoUrl"])
    assert client.get(path).data == svg_bytes()

    removed = runner.invoke(
        args=["providers", "set-branding", "bitloader", "--remove-logo", "--json"]
    )
    assert removed.exit_code == 0, removed.output
    assert json.loads(removed.output)["logoUrl"] is None
    assert json.loads(removed.output)["shownAs"] == "Bitloader Games"
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--accent", "red;}body{display:none"], "--accent: Give the accent colour as #rrggbb"),
        (["--logo", "/nonexistent/logo.png"], "logo: cannot read"),
        (["--logo", __file__], "logo: The logo must be a PNG or an SVG image"),
        (["--logo", __file__, "--remove-logo"], "not both"),
    ],
)
def test_cli_refuses_bad_branding_with_json_errors(runner, make, args, message):
    make.provider(name="Bitloader", slug="bitloader")

    result = runner.invoke(args=["providers", "set-branding", "bitloader", *args, "--json"])

    assert result.exit_code == 1
    assert message in json.loads(result.output)["error"]


def test_cli_names_an_unknown_provider(runner, app):
    result = runner.invoke(args=["providers", "set-branding", "nobody", "--json"])
    assert result.exit_code == 1
    assert "no provider with slug 'nobody'" in json.loads(result.output)["error"]


def test_a_cached_checkout_page_follows_a_branding_change(admin_client, client, provider):
    provider_id, key = provider.id, provider.api_key
    order_id = api_new_order(client, key)
    before = client.get(f"/checkout?orderId={order_id}").text
    assert client.get(f"/checkout?orderId={order_id}").text == before  # served again

    save_branding(admin_client, provider_id, png_bytes(), accent_color="#0b5fff")

    after = client.get(f"/checkout?orderId={order_id}").text
    assert logo_url(before) is None
    assert logo_url(after)
    assert accent_style(after) == "--brand:#0b5fff;--brand-ink:#ffffff"
