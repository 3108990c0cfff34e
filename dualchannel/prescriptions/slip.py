"""The patient's slip (取药单): the prescription number as a QR code the pharmacy can scan,
drawn on the server as SVG (segno; nothing is fetched from anywhere)."""

import io

import segno


def qr_svg(number: str) -> bytes:
    """An SVG QR code (error correction M) of `number`, 4 px per module, a 4-module quiet zone."""
    out = io.BytesIO()
    segno.make(number, error="m").save(out, kind="svg", scale=4, border=4, xmldecl=False, svgclass="qr",
                                      title=f"处方编号 {number}")
    return out.getvalue()
