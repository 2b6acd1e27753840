"""QR codes for payment links, as SVG markup and PNG bytes."""

import io

import qrcode
import qrcode.image.pure
import qrcode.image.svg

BORDER = 4


def svg(data: str) -> str:
    """An SVG drawing (white background) of a QR code holding the text."""
    image = qrcode.make(
        data, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=10, border=BORDER
    )
    return image.to_string(encoding="unicode")


def png(data: str, box_size: int = 10) -> bytes:
    """A PNG of a QR code holding the text."""
    image = qrcode.make(
        data, image_factory=qrcode.image.pure.PyPNGImage, box_size=box_size, border=BORDER
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
