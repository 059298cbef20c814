"""Bad images in bulk (property-based): embedder.images.load_image either returns an upright RGB
image within the pixel limit or raises ImageError with a message; never another exception, never
a slow decode of a file that claims huge dimensions.

Inputs: random bytes, valid images of every mode in every format Pillow writes (which must all
decode), those images truncated, bit-flipped and spliced, small files whose headers claim huge
dimensions (PNG, GIF, BMP, JPEG, TIFF, PSD), zero-byte and oversized input, and bad paths."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from embedder.images import DEFAULT_MAX_PIXELS, ImageError, load_image
from tests.helpers import fuzz_settings

# What each format can hold (checked against Pillow 13: every pair saves and loads back).
FORMAT_MODES = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B"],
    "JPEG": ["1", "L", "RGB", "RGBX", "CMYK", "YCbCr"],
    "GIF": ["1", "L", "P", "RGB", "RGBA", "I", "F"],
    "BMP": ["1", "L", "P", "RGB", "RGBA"],
    "TIFF": ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "I", "F", "I;16"],
    "WEBP": ["L", "RGB", "RGBA", "RGBa", "HSV", "CMYK"],
    "ICO": ["L", "LA", "P", "RGB", "RGBA"],
    "PPM": ["1", "L", "RGB", "I", "F", "I;16"],
    "TGA": ["L", "LA", "P", "RGB", "RGBA"],
    "PCX": ["1", "L", "P", "RGB"],
    "SGI": ["L", "RGB", "RGBA"],
    "JPEG2000": ["L", "LA", "RGB", "RGBA", "YCbCr"],
    "QOI": ["RGB", "RGBA"],
    "IM": ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "F"],
}
PAIRS = [(fmt, mode) for fmt, modes in FORMAT_MODES.items() for mode in modes]
FAST = 2.0  # seconds: refusing a header or decoding a small image takes milliseconds


def check(source, **limits) -> Image.Image | None:
    """The property: an RGB image within the limit, or ImageError with a message, quickly."""
    started = time.monotonic()
    try:
        img = load_image(source, **limits)
    except ImageError as error:
        assert str(error).strip(), "an ImageError without a message"
        img = None
    assert time.monotonic() - started < FAST, "load_image was slow on a small input"
    if img is not None:
        assert img.mode == "RGB" and img.width >= 1 and img.height >= 1
        assert img.width * img.height <= limits.get("max_pixels", DEFAULT_MAX_PIXELS)
    return img


@st.composite
def images(draw) -> tuple[bytes, Image.Image, str]:
    """A small valid image of a random mode, size and content, encoded in a random format."""
    fmt, mode = draw(st.sampled_from(PAIRS))
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    pixels = draw(st.binary(min_size=width * height * 4, max_size=width * height * 4))
    img = Image.frombytes("RGBA", (width, height), pixels)
    img = img.convert("RGB").convert(mode) if mode not in ("RGBA", "LA", "PA", "RGBa") else img.convert(mode)
    options = {}
    if fmt in EXIF_FORMATS and draw(st.booleans()):  # an orientation tag, sometimes out of range
        exif = Image.Exif()
        exif[ORIENTATION] = draw(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 65535]))
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue(), img, fmt


EXIF_FORMATS = ("JPEG", "PNG", "WEBP")
ORIENTATION = 0x0112


@fuzz_settings(max_examples=200)
@given(images())
def test_valid_images_of_every_mode_and_format_decode_to_rgb(case):
    data, original, fmt = case
    img = check(data)
    assert img is not None, f"a valid {fmt} image of mode {original.mode} was refused"
    width, height = original.size
    if Image.open(io.BytesIO(data)).getexif().get(ORIENTATION) in (5, 6, 7, 8):
        width, height = height, width  # turned upright
    # ICO stores square icons of standard sizes; everything else keeps its size.
    assert fmt == "ICO" or img.size == (width, height)


@fuzz_settings(max_examples=300)
@given(images(), st.data())
def test_truncated_and_corrupted_images_fail_cleanly(case, data):
    encoded, _, _ = case
    damage = data.draw(st.sampled_from(["truncate", "flip", "overwrite", "splice", "prefix"]))
    blob = bytearray(encoded)
    position = data.draw(st.integers(0, len(blob) - 1))
    if damage == "truncate":
        blob = blob[:position]
    elif damage == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] ^= 1 << data.draw(st.integers(0, 7))
    elif damage == "overwrite":
        blob[position : position + 4] = data.draw(
            st.sampled_from([b"\xff\xff\xff\xff", b"\0\0\0\0", b"\x7f\xff\xff\xff"])
        )
    elif damage == "splice":
        blob = blob[:position] + data.draw(st.binary(min_size=1, max_size=64)) + blob[position:]
    else:
        blob = data.draw(st.binary(min_size=1, max_size=16)) + blob
    if blob:
        check(bytes(blob))
    else:
        with pytest.raises(ImageError, match="empty"):
            load_image(bytes(blob))


MAGIC = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF89a",
    b"GIF87a",
    b"BM",
    b"II*\0",
    b"MM\0*",
    b"8BPS",
    b"RIFF\0\0\0\0WEBP",
    b"\0\0\1\0",
    b"P6\n",
    b"qoif",
    b"\0\0\0\x0cjP  \r\n\x87\n",
    b"",
]


@fuzz_settings(max_examples=300)
@given(st.sampled_from(MAGIC), st.binary(max_size=2048))
@example(b"", b"\0")
@example(b"\x89PNG\r\n\x1a\n", b"")
def test_random_bytes_behind_any_magic_number_fail_cleanly(magic, rest):
    if magic + rest:
        check(magic + rest)


# -- decompression bombs: small files whose headers claim huge dimensions ----------------------


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _gif(width: int, height: int) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0, 0, 0)
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return b"GIF89a" + screen + descriptor + b"\x02\x02\x44\x01\x00;"


def _bmp(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + b"\0" * 16


def _jpeg(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00" + b"\0" * 32 + b"\xff\xd9"


def _tiff(width: int, height: int) -> bytes:
    tags = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8),
        (277, 3, 1),
        (278, 4, height),
        (279, 4, 16),
    ]
    ifd = struct.pack("<H", len(tags)) + b"".join(
        struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in tags
    )
    return b"II*\0" + struct.pack("<I", 8 + 16) + b"\0" * 16 + ifd + b"\0\0\0\0"


def _psd(width: int, height: int) -> bytes:
    header = b"8BPS" + struct.pack(">H6sHIIHH", 1, b"\0" * 6, 3, height, width, 8, 3)
    return header + struct.pack(">I", 0) * 3 + struct.pack(">H", 0) + b"\0" * 64


BOMBS = {
    "PNG": (_png, 2**31 - 1),
    "GIF": (_gif, 2**16 - 1),
    "BMP": (_bmp, 2**31 - 1),
    "JPEG": (_jpeg, 2**16 - 1),
    "TIFF": (_tiff, 2**32 - 1),
    "PSD": (_psd, 30000),
}


@st.composite
def claimed_sizes(draw) -> tuple[str, int, int]:
    fmt = draw(st.sampled_from(sorted(BOMBS)))
    largest = BOMBS[fmt][1]
    side = st.one_of(
        st.integers(1, largest), st.sampled_from([largest, 6500, 7000, 20000, 65535]).filter(lambda n: n <= largest)
    )
    return fmt, draw(side), draw(side)


@fuzz_settings(max_examples=200)
@given(claimed_sizes(), st.sampled_from([DEFAULT_MAX_PIXELS, 1_000_000]))
@example(("PNG", 100_000, 100_000), DEFAULT_MAX_PIXELS)
@example(("PNG", 7000, 7000), DEFAULT_MAX_PIXELS)  # 49 MP: under Pillow's own bomb limit, over ours
@example(("GIF", 65535, 65535), DEFAULT_MAX_PIXELS)
@example(("JPEG", 65535, 65535), DEFAULT_MAX_PIXELS)
@example(("TIFF", 2**32 - 1, 2**32 - 1), DEFAULT_MAX_PIXELS)
@example(("BMP", 2**31 - 1, 1), DEFAULT_MAX_PIXELS)
def test_files_claiming_huge_dimensions_are_refused_before_decoding(case, max_pixels):
    fmt, width, height = case
    img = check(BOMBS[fmt][0](width, height), max_pixels=max_pixels)
    if width * height > max_pixels:
        assert img is None


def test_a_huge_text_chunk_is_refused():
    """A PNG whose zTXt chunk inflates to 100 MB (Pillow caps text chunks)."""
    text = b"Comment\0\0" + zlib.compress(b"\0" * 100_000_000, 9)
    chunk = struct.pack(">I", len(text)) + b"zTXt" + text + struct.pack(">I", zlib.crc32(b"zTXt" + text) & 0xFFFFFFFF)
    png = _png(2, 2)
    check(png[:33] + chunk + png[33:])


# -- sizes, paths and other sources --------------------------------------------------------


@pytest.mark.parametrize(
    "source, message",
    [
        (b"", "empty"),
        (bytearray(), "empty"),
        (b"\0" * (1024 + 1), "over the limit"),
        ("/nonexistent/x.jpg", "cannot be read"),
        ("/", "cannot be read|over the limit"),
        ("image\0.jpg", "cannot be read"),  # was a bare ValueError: it stopped a whole indexing batch
        (12345, "unsupported input type"),
        (Image.new("RGB", (0, 3)), "no pixels"),
    ],
)
def test_bad_sources_raise_image_error_with_a_message(source, message):
    with pytest.raises(ImageError, match=message):
        load_image(source, max_bytes=1024)


def test_the_byte_limit_is_enforced_for_bytes_and_files(tmp_path):
    path = tmp_path / "upload.bin"

    @fuzz_settings(max_examples=60)
    @given(st.binary(min_size=1, max_size=64), st.integers(1, 64))
    def limited(data, max_bytes):
        path.write_bytes(data)
        for source in (data, path, str(path)):
            try:
                load_image(source, max_bytes=max_bytes)
            except ImageError as error:
                assert len(data) <= max_bytes or "over the limit" in str(error)
            else:
                raise AssertionError("random bytes decoded as an image")

    limited()
