"""`layercalc draw` output rendered by a real browser: Debian's chromium, headless, takes
a screenshot of the SVG and of the HTML page (inline script, zoom/pan) from file://;
the PNG must have the window's size and not be blank. Skipped cleanly when
/usr/bin/chromium is not installed (CI: `apt-get install -y chromium`)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from layercalc.analyses.loading import analyse
from layercalc.draw import draw

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1200, 900

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


def read_png(data: bytes):
    """(width, height, rows of RGB(A) bytes) of an 8-bit non-interlaced PNG, as chromium
    writes them; only zlib and struct."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, head = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, bits, colour, _, _, interlace = head
    assert bits == 8 and interlace == 0 and colour in (2, 6), head
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def non_white(rows, bpp) -> int:
    n = 0
    for line in rows:
        for i in range(0, len(line), bpp):
            if line[i] < 240 or line[i + 1] < 240 or line[i + 2] < 240:
                n += 1
    return n


def screenshot(tmp_path: Path, page: Path) -> Path:
    out = tmp_path / f"{page.stem}.png"
    profile = tmp_path / "profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--screenshot={out}",
        f"--window-size={WIDTH},{HEIGHT}",
        page.resolve().as_uri(),
    ]
    r = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert out.exists(), r.stderr.decode("utf-8", "replace")[-2000:]
    shutil.rmtree(profile, ignore_errors=True)
    return out


@pytest.mark.parametrize(
    "name, fmt, depth, style",
    [
        ("resnet50", "svg", 1, "graph"),
        ("dcgan_discriminator", "svg", None, "graph"),
        ("dcgan_discriminator", "svg", None, "blocks"),
        ("resnet50", "html", 1, "graph"),
        ("unet", "html", None, "graph"),
    ],
)
def test_browser_renders(tmp_path, name, fmt, depth, style):
    net = analyse(str(ROOT / "specs" / f"{name}.yaml")).net
    page = tmp_path / f"{name}_{style}.{fmt}"
    page.write_text(draw(net, fmt, depth, style=style), encoding="utf-8")
    width, height, rows, bpp = read_png(screenshot(tmp_path, page).read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    drawn = non_white(rows, bpp)
    assert drawn > 0.005 * width * height, drawn  # boxes, text and edges, not a blank page
    assert drawn < 0.9 * width * height, drawn  # and not an error page or a black one


def test_html_script_runs(tmp_path):
    """The inline zoom/pan script runs offline: after load it has fitted the drawing
    (a transform on the svg), as the DOM chromium dumps shows."""
    net = analyse(str(ROOT / "specs" / "resnet50.yaml")).net
    page = tmp_path / "resnet50.html"
    page.write_text(draw(net, "html", 1), encoding="utf-8")
    profile = tmp_path / "profile"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    r = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    dom = r.stdout.decode("utf-8", "replace")
    assert "<svg" in dom, r.stderr.decode("utf-8", "replace")[-2000:]
    assert re.search(r'<svg[^>]*style="transform: translate\(0px, 0px\) scale\(0\.\d+\);?"', dom)
