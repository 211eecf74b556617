"""PIL-drawn geometry diagrams with exact answers (the MGT demo set): the numbers live in the picture.

Four kinds: a triangle with two labelled angles (third angle), parallel lines cut by a transversal (a related
angle), a circle with a labelled radius (circumference or area, in terms of pi), a right triangle with labelled
legs (hypotenuse as a simplified surd). Golds read like Geometry3K's: `60^\\circ`, `6\\pi`, `5\\sqrt{2}`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from PIL import Image, ImageDraw, ImageFont

from lmmr1_cli.data.synthetic import generate_split

NAME = "synthetic-geo"
SIZE = 168  # 6 x 28: already a multiple of Qwen's resize factor, so smart_resize leaves it alone.
_INK = (20, 20, 20)
_MARK = (200, 30, 30)


def _font(size: int = 13) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType: the bitmap font still renders digits.
        return ImageFont.load_default()


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    return image, ImageDraw.Draw(image)


def _label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill=_MARK) -> None:
    draw.text(xy, text, fill=fill, font=_font(), anchor="mm")


def surd(n: int) -> str:
    """sqrt(n) simplified to LaTeX: 50 -> `5\\sqrt{2}`, 25 -> `5`, 7 -> `\\sqrt{7}`."""
    outside, inside = 1, n
    for k in range(int(math.isqrt(n)), 1, -1):
        if n % (k * k) == 0:
            outside, inside = k, n // (k * k)
            break
    if inside == 1:
        return str(outside)
    return f"\\sqrt{{{inside}}}" if outside == 1 else f"{outside}\\sqrt{{{inside}}}"


def _triangle(rng: random.Random) -> tuple[str, dict]:
    a, b = rng.randint(25, 95), rng.randint(25, 95)
    while a + b > 150:
        a, b = rng.randint(25, 95), rng.randint(25, 95)
    x = 180 - a - b
    # Base AB on a horizontal line; C where the rays at angles a (from A) and b (from B) meet.
    ta, tb = math.tan(math.radians(a)), math.tan(math.radians(b))
    cx = tb / (ta + tb)
    cy = ta * cx
    scale = min(120, 120 / max(cy, 1e-6))
    ox, oy = (SIZE - scale) / 2, SIZE - 28
    A, B, C = (ox, oy), (ox + scale, oy), (ox + cx * scale, oy - cy * scale)
    image, draw = _canvas()
    draw.polygon([A, B, C], outline=_INK, width=2)
    _label(draw, (A[0] + 18, A[1] - 8), f"{a}°")
    _label(draw, (B[0] - 18, B[1] - 8), f"{b}°")
    _label(draw, (C[0], C[1] + 14), "x")
    row = {
        "problem": "Find x, the third angle of the triangle, in degrees.",
        "images": [image],
        "answer": f"{x}^\\circ",
    }
    return f"triangle:{a}:{b}", row


def _parallel(rng: random.Random) -> tuple[str, dict]:
    a = rng.randint(30, 150)
    # At the upper crossing P, x sits in one of four regions; only its region decides x = a or 180 - a.
    region = rng.choice(("corresponding", "alternate", "co-interior", "vertical-co"))
    x = a if region in ("corresponding", "alternate") else 180 - a
    image, draw = _canvas()
    y1, y2 = 55, 120
    draw.line([(10, y1), (SIZE - 10, y1)], fill=_INK, width=2)
    draw.line([(10, y2), (SIZE - 10, y2)], fill=_INK, width=2)
    t = math.radians(a)
    dx = (y2 - y1) / math.tan(t)
    q = (SIZE / 2 - dx / 2, y2)
    p = (SIZE / 2 + dx / 2, y1)
    ext = 35 / max(math.sin(t), 0.2)
    draw.line(
        [
            (q[0] - ext * math.cos(t), q[1] + ext * math.sin(t)),
            (p[0] + ext * math.cos(t), p[1] - ext * math.sin(t)),
        ],
        fill=_INK,
        width=2,
    )

    def at(center: tuple[float, float], direction: float) -> tuple[float, float]:
        return center[0] + 20 * math.cos(direction), center[1] - 20 * math.sin(direction)

    _label(draw, at(q, t / 2), f"{a}°")  # above line m, right of the transversal
    direction = {
        "corresponding": t / 2,
        "alternate": math.pi + t / 2,
        "co-interior": -(math.pi - t) / 2,
        "vertical-co": t + (math.pi - t) / 2,
    }[region]
    _label(draw, at(p, direction), "x")
    _label(draw, (SIZE - 14, y1 - 9), "l", fill=_INK)
    _label(draw, (SIZE - 14, y2 - 9), "m", fill=_INK)
    row = {
        "problem": "Lines l and m are parallel. Find x in degrees.",
        "images": [image],
        "answer": f"{x}^\\circ",
    }
    return f"parallel:{a}:{region}", row


def _circle(rng: random.Random) -> tuple[str, dict]:
    r = rng.randint(2, 15)
    want = rng.choice(("area", "circumference"))
    image, draw = _canvas()
    c, rad = SIZE / 2, 60
    draw.ellipse([c - rad, c - rad, c + rad, c + rad], outline=_INK, width=2)
    draw.line([(c, c), (c + rad, c)], fill=_INK, width=2)
    draw.ellipse([c - 3, c - 3, c + 3, c + 3], fill=_INK)
    _label(draw, (c + rad / 2, c - 10), str(r))
    value = r * r if want == "area" else 2 * r
    row = {
        "problem": f"Find the {want} of the circle. Leave the answer in terms of \\pi.",
        "images": [image],
        "answer": f"{value}\\pi",
        "split_key": f"circle:{r}",  # area and circumference share the picture: keep both in one split
    }
    return f"circle:{r}:{want}", row


def _right_triangle(rng: random.Random) -> tuple[str, dict]:
    a, b = rng.randint(1, 12), rng.randint(1, 12)
    image, draw = _canvas()
    scale = 110 / max(a, b)
    A = (30, SIZE - 30)
    B = (30 + b * scale, SIZE - 30)
    C = (30, SIZE - 30 - a * scale)
    draw.polygon([A, B, C], outline=_INK, width=2)
    draw.rectangle([A[0], A[1] - 10, A[0] + 10, A[1]], outline=_INK)
    _label(draw, (A[0] - 12, (A[1] + C[1]) / 2), str(a))
    _label(draw, ((A[0] + B[0]) / 2, A[1] + 12), str(b))
    _label(draw, ((B[0] + C[0]) / 2 + 10, (B[1] + C[1]) / 2 - 10), "c")
    row = {
        "problem": "Find the hypotenuse c of the right triangle.",
        "images": [image],
        "answer": surd(a * a + b * b),
    }
    return f"right:{min(a, b)}:{max(a, b)}", row


def _candidate(rng: random.Random) -> tuple[str, dict]:
    key, row = rng.choice((_triangle, _parallel, _circle, _right_triangle))(rng)
    row.update(answer_type="geometry", choices=None)
    return key, row


def generate(split: str = "train", limit: int = 500, seed: int = 0) -> Iterator[dict]:
    """Source rows of `split` with one PIL image each; train and test never share a diagram."""
    return generate_split(_candidate, NAME, split, limit, seed)
