"""A small generated catalog of product-like images with titles and attributes, so the demo and
the tests work offline: drawn garments and accessories in several colours and patterns."""

from __future__ import annotations

import csv
import itertools
import random
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 299
COLORS = {
    "red": (200, 30, 40),
    "blue": (30, 60, 190),
    "green": (30, 150, 60),
    "black": (25, 25, 25),
    "yellow": (235, 200, 30),
}
PATTERNS = ("solid", "striped", "dotted")
# category -> (title word, material, outline as fractions of the canvas)
CATEGORIES = {
    "tshirt": (
        "T-shirt",
        "cotton",
        [
            (0.3, 0.2),
            (0.42, 0.15),
            (0.58, 0.15),
            (0.7, 0.2),
            (0.85, 0.35),
            (0.75, 0.43),
            (0.7, 0.38),
            (0.7, 0.85),
            (0.3, 0.85),
            (0.3, 0.38),
            (0.25, 0.43),
            (0.15, 0.35),
        ],
    ),
    "dress": ("dress", "linen", [(0.42, 0.12), (0.58, 0.12), (0.6, 0.35), (0.8, 0.88), (0.2, 0.88), (0.4, 0.35)]),
    "shoe": (
        "sneaker",
        "leather",
        [(0.12, 0.55), (0.45, 0.5), (0.6, 0.35), (0.72, 0.4), (0.9, 0.62), (0.9, 0.72), (0.12, 0.72)],
    ),
    "bag": ("tote bag", "canvas", [(0.22, 0.35), (0.78, 0.35), (0.83, 0.85), (0.17, 0.85)]),
}
BRANDS = ("Northwind", "Acme", "Lumen", "Pico")


def draw_product(category: str, color: str, pattern: str, rng: random.Random) -> Image.Image:
    """One product photo: the item's outline filled with its colour and pattern, slightly moved."""
    image = Image.new("RGB", (SIZE, SIZE), (242, 242, 238))
    scale, dx, dy = rng.uniform(0.9, 1.05), rng.uniform(-12, 12), rng.uniform(-12, 12)
    outline = [
        (SIZE * (x - 0.5) * scale + SIZE / 2 + dx, SIZE * (y - 0.5) * scale + SIZE / 2 + dy)
        for x, y in CATEGORIES[category][2]
    ]
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).polygon(outline, fill=255)
    fabric = Image.new("RGB", (SIZE, SIZE), COLORS[color])
    draw = ImageDraw.Draw(fabric)
    if pattern == "striped":
        for y in range(0, SIZE, 24):
            draw.rectangle([0, y, SIZE, y + 9], fill=(245, 245, 245))
    elif pattern == "dotted":
        for x, y in itertools.product(range(8, SIZE, 26), repeat=2):
            draw.ellipse([x, y, x + 10, y + 10], fill=(245, 245, 245))
    image.paste(fabric, (0, 0), mask)
    ImageDraw.Draw(image).polygon(outline, outline=(60, 60, 60))
    return image


def generate_catalog(directory: Path, variants: int = 1, seed: int = 7) -> Path:
    """Writes images/ and catalog.csv: ``variants`` products (photos differ in position and
    size) per category x colour x pattern, 60 x ``variants`` in all."""
    directory = Path(directory)
    (directory / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = []
    combinations = itertools.product(range(variants), CATEGORIES, COLORS, PATTERNS)
    for number, (_, category, color, pattern) in enumerate(combinations):
        noun, material, _ = CATEGORIES[category]
        product_id = f"SKU{number + 1:04d}"
        image_path = f"images/{product_id}.jpg"
        draw_product(category, color, pattern, rng).save(directory / image_path, quality=92)
        rows.append(
            {
                "id": product_id,
                "image": image_path,
                "title": f"{color.title()} {pattern} {material} {noun}",
                "description": f"A {pattern} {noun} in {color}, made of {material}.",
                "brand": rng.choice(BRANDS),
                "category": category,
                "color": color,
                "price": f"{rng.uniform(9, 120):.2f}",
                "attributes": f"{pattern}|{material}",
            }
        )
    catalog = directory / "catalog.csv"
    with open(catalog, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return catalog


def query_image(category: str, color: str, pattern: str, seed: int = 1234) -> Image.Image:
    """A new photo of a product like the catalog's (another position and size)."""
    return draw_product(category, color, pattern, random.Random(seed))
