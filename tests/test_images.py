"""embedder.images: every input mode normalises to upright RGB; bad input raises ImageError."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from embedder.images import MAX_FRAMES, MAX_JPEG_SCANS, ImageError, load_image, to_model_input
from tests.helpers import shared_dataset

SIZE = (64, 48)


def encode(img: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def pixel(img: Image.Image, xy: tuple[int, int] = (0, 0)) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(img)[xy[1], xy[0]])


def png_header_only(width: int, height: int, colour_type: int = 2) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's shape), in RGB
    (colour type 2) or RGBA (6)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["L", "1", "I", "F", "RGB", "YCbCr", "LA", "RGBA"])
def test_modes_become_rgb_of_same_size(mode: str) -> None:
    img = Image.new("RGB", SIZE, (90, 140, 200)).convert(mode)
    out = load_image(img)
    assert out.mode == "RGB" and out.size == SIZE


def test_grayscale_keeps_its_level() -> None:
    out = load_image(encode(Image.new("L", SIZE, 77)))
    assert pixel(out) == (77, 77, 77)


def test_rgba_composites_over_white() -> None:
    img = Image.new("RGBA", SIZE, (0, 0, 0, 0))  # fully transparent black
    img.putpixel((1, 1), (255, 0, 0, 255))
    out = load_image(encode(img))
    assert pixel(out) == (255, 255, 255)
    assert pixel(out, (1, 1)) == (255, 0, 0)


def test_half_transparent_la_blends_with_white() -> None:
    out = load_image(encode(Image.new("LA", SIZE, (0, 128))))
    assert all(abs(v - 127) <= 1 for v in pixel(out))


def test_palette_with_and_without_transparency() -> None:
    img = Image.new("P", SIZE, 0)
    img.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    img.putpixel((1, 1), 1)
    assert pixel(load_image(encode(img))) == (0, 0, 0)
    out = load_image(encode(img, transparency=0))  # palette index 0 is transparent
    assert out.mode == "RGB"
    assert pixel(out) == (255, 255, 255)
    assert pixel(out, (1, 1)) == (0, 200, 0)


def test_cmyk_jpeg_becomes_rgb() -> None:
    out = load_image(encode(Image.new("CMYK", SIZE, (0, 255, 255, 0)), "JPEG", quality=95))
    assert out.mode == "RGB" and out.size == SIZE
    red, green, blue = pixel(out, (10, 10))
    assert red > 200 and green < 60 and blue < 60


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    values = np.zeros((SIZE[1], SIZE[0]), dtype=np.uint16)
    values[0, 0], values[0, 1], values[0, 2] = 65535, 257 * 100, 0
    data = encode(Image.fromarray(values))
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    out = load_image(data)
    assert out.mode == "RGB"
    assert [pixel(out, (x, 0))[0] for x in range(3)] == [255, 100, 0]


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (60, 40), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 30, 40))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    out = load_image(encode(img, "JPEG", exif=exif, quality=95))
    assert out.size == (40, 60)  # width and height swap
    top, bottom = pixel(out, (20, 5)), pixel(out, (20, 55))
    assert top[0] > 200 and top[2] < 60  # the left edge is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_path_bytes_and_pil_inputs_agree(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    data = encode(img)
    path = tmp_path / "noise.png"
    path.write_bytes(data)
    arrays = [np.asarray(load_image(source)) for source in (img, data, path, str(path))]
    for array in arrays[1:]:
        np.testing.assert_array_equal(array, arrays[0])


def test_pil_input_is_not_modified() -> None:
    img = Image.new("RGBA", SIZE, (10, 20, 30, 0))
    load_image(img)
    assert img.mode == "RGBA" and img.getpixel((0, 0)) == (10, 20, 30, 0)


def test_real_product_photos_decode() -> None:
    images = shared_dataset("fashion-products") / "images"
    for path in sorted(images.glob("*.jpg"))[:5]:
        out = load_image(path)
        assert out.mode == "RGB" and out.size == (224, 224)


# -- model input -------------------------------------------------------------------------


def test_to_model_input_is_float32_raw_rgb() -> None:
    array = to_model_input(Image.new("RGB", SIZE, (255, 0, 10)))
    assert array.shape == (299, 299, 3) and array.dtype == np.float32
    np.testing.assert_array_equal(array[0, 0], [255.0, 0.0, 10.0])
    assert to_model_input(Image.new("RGB", SIZE), size=75).shape == (75, 75, 3)


def test_to_model_input_rejects_non_rgb() -> None:
    with pytest.raises(ValueError, match="'L'"):
        to_model_input(Image.new("L", SIZE))


# -- bad input ---------------------------------------------------------------------------


def jpeg_bytes() -> bytes:
    rng = np.random.default_rng(1)
    return encode(Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)), "JPEG")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (jpeg_bytes()[: len(jpeg_bytes()) // 2], "truncated"),
        (np.random.default_rng(2).bytes(4096), "not a recognised image"),
        (b"GIF89a" + b"\0" * 20, "not a recognised image"),  # magic, then garbage
    ],
    ids=["zero-bytes", "truncated-jpeg", "random-bytes", "bad-gif"],
)
def test_bad_bytes_raise_image_error(data: bytes, reason: str) -> None:
    with pytest.raises(ImageError, match=reason) as caught:
        load_image(data)
    assert f"<{len(data)} bytes>" in str(caught.value)


def test_empty_and_missing_files_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(ImageError, match=r"empty\.jpg.*empty"):
        load_image(empty)
    with pytest.raises(ImageError, match=r"missing\.jpg.*cannot be read"):
        load_image(tmp_path / "missing.jpg")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    with pytest.raises(ImageError, match=r"notes\.jpg.*not a recognised image"):
        load_image(text)


def test_decompression_bomb_is_rejected_before_decoding() -> None:
    data = png_header_only(8000, 6000)  # 48 Mpx over our 40 Mpx default, under Pillow's
    assert len(data) < 200
    with pytest.raises(ImageError, match="8000x6000 = 48000000 pixels.*decompression bomb"):
        load_image(data)


def test_pillow_decompression_bomb_error_surfaces_as_image_error() -> None:
    # 10^10 pixels: Pillow itself refuses at open time, above any limit we set.
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(png_header_only(100_000, 100_000), max_pixels=10**11)


def test_pixel_limit_is_configurable() -> None:
    data = encode(Image.new("RGB", (100, 100)))
    assert load_image(data, max_pixels=10_000).size == (100, 100)
    with pytest.raises(ImageError, match="over the limit of 9999"):
        load_image(data, max_pixels=9_999)


def test_oversized_bytes_and_files_are_rejected(tmp_path: Path) -> None:
    data = jpeg_bytes()
    with pytest.raises(ImageError, match=f"{len(data)} bytes, over the limit of 1000 bytes"):
        load_image(data, max_bytes=1000)
    path = tmp_path / "big.jpg"
    path.write_bytes(data)
    with pytest.raises(ImageError, match=r"big\.jpg.*over the limit"):
        load_image(path, max_bytes=1000)


def test_image_error_is_a_value_error() -> None:
    assert issubclass(ImageError, ValueError)


# -- what a file costs to decode, refused from its headers -------------------------------


def jpeg_segments(data: bytes) -> list[bytes]:
    """A JPEG's segments, each scan with its entropy-coded data."""
    segments, at = [data[:2]], 2
    while at < len(data):
        marker = data[at + 1]
        end = at + 2 if marker == 0xD9 else at + 2 + struct.unpack_from(">H", data, at + 2)[0]
        if marker == 0xDA:  # the scan's data runs to the next marker that is not a stuffed 0xFF00 or a restart
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8))):
                end += 1
        segments.append(data[at:end])
        at = end
    return segments


def scan_bomb(scans: int, size: tuple[int, int] = (64, 64), before_each: bytes = b"") -> bytes:
    """A progressive JPEG whose first AC scan is repeated until it has ``scans`` scans: each is
    another pass over every block (1000 of them made a 223 KB file take 44 s)."""
    segments = jpeg_segments(encode(Image.new("RGB", size, (120, 30, 200)), "JPEG", progressive=True))
    positions = [i for i, s in enumerate(segments) if s[:2] == b"\xff\xda"]
    extra = before_each + segments[positions[1]]
    return b"".join(segments[:-1]) + extra * (scans - len(positions)) + segments[-1]


def test_a_jpeg_of_too_many_scans_is_refused_before_decoding() -> None:
    assert load_image(scan_bomb(MAX_JPEG_SCANS)).size == (64, 64)  # repeated scans decode
    data = scan_bomb(1000)
    assert len(data) < 100_000
    with pytest.raises(ImageError, match=f"more than {MAX_JPEG_SCANS} scans"):
        load_image(data)


@pytest.mark.parametrize(
    "marker", [b"\xff\x01", b"\xff\xd8", b"\xff\xd3", b"\xff\xff\xff"], ids=["TEM", "SOI", "RST", "fill"]
)
def test_scans_behind_markers_without_a_length_are_counted(marker: bytes) -> None:
    """A walker that read a length after these would jump over the scans that follow."""
    with pytest.raises(ImageError, match=f"more than {MAX_JPEG_SCANS} scans"):
        load_image(scan_bomb(1000, before_each=marker))


def test_scan_markers_inside_metadata_are_not_counted() -> None:
    comment = b"\xff\xda" * 2000  # a comment (or an EXIF thumbnail) may hold any bytes
    data = encode(Image.new("RGB", SIZE, (1, 2, 3)), "JPEG", progressive=True, comment=comment)
    assert data.count(b"\xff\xda") > MAX_JPEG_SCANS
    assert load_image(data).size == SIZE


def test_the_memory_budget_is_by_mode() -> None:
    """The same pixels cost more in RGBA (composited over white) than in RGB or L."""
    budget = 100 * 2**20
    side = 4000  # 16 Mpx: about 80 MiB as RGB, 96 MiB as L, 305 MiB as RGBA
    for mode in ("RGB", "L"):
        assert load_image(encode(Image.new(mode, (side, side))), max_decode_bytes=budget).size == (side, side)
    rgba = encode(Image.new("RGBA", (side, side), (1, 2, 3, 4)))
    assert len(rgba) < 100_000
    with pytest.raises(ImageError, match=r"4000x4000 RGBA image needs about 305 MiB.*over the limit of 100 MiB"):
        load_image(rgba, max_decode_bytes=budget)


def test_the_default_budget_refuses_a_40_megapixel_rgba_png_from_its_header() -> None:
    with pytest.raises(ImageError, match=r"8000x5000 RGBA image needs about 762 MiB.*limit of 512 MiB"):
        load_image(png_header_only(8000, 5000, colour_type=6))


def apng(frames: int, declared: int) -> bytes:
    """An animated PNG of ``frames`` frames whose acTL chunk declares ``declared``."""
    images = [Image.new("RGB", (4, 4), (i, 0, 0)) for i in range(frames)]
    data = bytearray(encode(images[0], "PNG", save_all=True, append_images=images[1:]))
    at = data.index(b"acTL")
    data[at + 4 : at + 8] = struct.pack(">I", declared)
    data[at + 12 : at + 16] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 12])) & 0xFFFFFFFF)
    return bytes(data)


def test_frames_over_the_limit_are_refused_and_only_the_first_is_decoded() -> None:
    out = load_image(apng(3, 3))
    assert pixel(out) == (0, 0, 0)  # the first frame
    gif = [Image.new("L", SIZE, level) for level in (10, 200)]
    assert pixel(load_image(encode(gif[0], "GIF", save_all=True, append_images=gif[1:]))) == (10, 10, 10)
    with pytest.raises(ImageError, match=f"has 1000000 frames, over the limit of {MAX_FRAMES}"):
        load_image(apng(3, 1_000_000))
