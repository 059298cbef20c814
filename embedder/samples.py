"""A small generated catalog of product-like images with titles and attributes, so the demo and
the tests work offline: drawn garments and accessories in several colours and patterns."""
from __future__ import annotations

import csv
import itertools
import random
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 299
COLORS = {"red": (200, 30, 40), "blue": (30, 60, 190), "green": (30, 150, 60),
          "black": (25, 25, 25), "yellow": (235, 200, 30)}  # fmt: skip
PATTERNS = ("solid", "striped", "dotted")
# category -> (title word, material, outline as fractions of the canvas)
CATEGORIES = {
    "tshirt": ("T-shirt", "cotton", [(.3, .2), (.42, .15), (.58, .15), (.7, .2), (.85, .35), (.75, .43),
                                     (.7, .38), (.7, .85), (.3, .85), (.3, .38), (.25, .43), (.15, .35)]),
    "dress": ("dress", "linen", [(.42, .12), (.58, .12), (.6, .35), (.8, .88), (.2, .88), (.4, .35)]),
    "shoe": ("sneaker", "leather", [(.12, .55), (.45, .5), (.6, .35), (.72, .4), (.9, .62), (.9, .72),
                                    (.12, .72)]),
    "bag": ("tote bag", "canvas", [(.22, .35), (.78, .35), (.83, .85), (.17, .85)]),
}  # fmt: skip
BRANDS = ("Northwind", "Acme", "Lumen", "Pico")


def draw_product(category: str, color: str, pattern: str, rng: random.Random) -> Image.Image:
    """One product photo: the item's outline filled with its colour and pattern, slightly moved."""
    image = Image.new("RGB", (SIZE, SIZE), (242, 242, 238))
    scale, dx, dy = rng.uniform(0.9, 1.05), rng.uniform(-12, 12), rng.uniform(-12, 12)
    outline = [(SIZE * (x - 0.5) * scale + SIZE / 2 + dx, SIZE * (y - 0.5) * scale + SIZE / 2 + dy)
               for x, y in CATEGORIES[category][2]]  # fmt: skip
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
        rows.append({
            "id": product_id, "image": image_path,
            "title": f"{color.title()} {pattern} {material} {noun}",
            "description": f"A {pattern} {noun} in {color}, made of {material}.",
            "brand": rng.choice(BRANDS), "category": category, "color": color,
            "price": f"{rng.uniform(9, 120):.2f}", "attributes": f"{pattern}|{material}",
        })  # fmt: skip
    catalog = directory / "catalog.csv"
    with open(catalog, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return catalog


def query_image(category: str, color: str, pattern: str, seed: int = 1234) -> Image.Image:
    """A new photo of a product like the catalog's (another position and size)."""
    return draw_product(category, color, pattern, random.Random(seed))
