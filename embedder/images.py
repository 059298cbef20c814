"""Decoding untrusted images into RGB arrays for the feature extractor.

Everything here is pure Pillow + NumPy so that it can be used (and tested)
without TensorFlow, and in a decode worker (``embedder.decoding``). Every
failure caused by the input itself is raised as :class:`ImageError`, so batch
callers can skip one bad item and go on.

What a file costs to decode is checked from its headers before decoding: its
pixels, the memory its mode needs, its frames and, for JPEG, its scans.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from embedder.errors import BadInput

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_DECODE_BYTES = 512 * 1024 * 1024
MAX_JPEG_SCANS = 100  # libjpeg's progressive scripts write 10; each scan is a pass over every block
MAX_FRAMES = 1000  # only the first frame is decoded; more is a file built to be expensive
MODEL_INPUT_SIZE = 299

ImageSource = str | os.PathLike | bytes | bytearray | Image.Image

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_WHITE = (255, 255, 255)

# Peak bytes per pixel of decoding a mode and converting it to RGB, measured (bench/decoding.py):
# Pillow holds 1, L and P in one byte and other modes in four, and _to_rgb adds its copies, so an
# RGBA image costs four times an RGB one of the same size (compositing over white), a 16-bit one
# as much (float arithmetic). A turn (EXIF) adds a copy of the decoded image, and libjpeg keeps
# every coefficient of a progressive JPEG until its last scan.
_PEAK_BYTES_PER_PIXEL = {"1": 6, "L": 6, "P": 6, "RGB": 5, "I": 24, "F": 24} | dict.fromkeys(_ALPHA_MODES, 20)
_PEAK_BYTES_PER_PIXEL |= dict.fromkeys(_SIXTEEN_BIT_MODES, 20)
_OTHER_MODES_PEAK = 9  # CMYK, YCbCr, LAB, ...: decoded, then converted to RGB
_ROTATED_OR_PROGRESSIVE = 4
# JPEG markers that start no segment: a stuffed 0xFF in entropy-coded data, TEM, restarts, SOI, fill
_STANDALONE = frozenset({0x00, 0x01, *range(0xD0, 0xD9), 0xFF})
_JPEG_SEGMENT = re.compile(rb"\xff[^\x00\x01\xd0-\xd8\xff]")


class ImageError(BadInput):
    """An input that cannot be turned into an RGB image; the message names it."""


def load_image(
    source: ImageSource,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    max_jpeg_scans: int = MAX_JPEG_SCANS,
    max_frames: int = MAX_FRAMES,
) -> Image.Image:
    """Decode ``source`` (path, bytes or PIL image) into an EXIF-upright RGB image.

    Raises ImageError for empty, oversized, truncated or non-image input, and,
    checked before decoding, for images with more than ``max_pixels`` pixels,
    that need more than ``max_decode_bytes`` of memory for their mode, with more
    than ``max_frames`` frames, or JPEGs of more than ``max_jpeg_scans`` scans.
    """
    label = describe_source(source)
    if isinstance(source, Image.Image):
        img, owned = source, False
    else:
        data = _read_bytes(source, label, max_bytes)
        img, owned = _open(data, label), True
        if img.format in ("JPEG", "MPO"):
            _check_scans(data, label, max_jpeg_scans)
    _check_pixels(img, label, max_pixels)
    _check_memory(img, label, max_decode_bytes)
    _guarded(lambda: _check_frames(img, label, max_frames), label)
    return _guarded(lambda: _to_rgb(_upright(_loaded(img), owned)), label)


def to_model_input(img: Image.Image, size: int = MODEL_INPUT_SIZE) -> np.ndarray:
    """Resize an RGB image to ``size`` x ``size`` (bilinear) as float32 0..255.

    The aspect ratio is not kept: stretching to a square is what Inception
    feature extraction has always done, so vectors stay comparable with it.
    """
    if img.mode != "RGB":
        raise ValueError(f"expected an RGB image (see load_image), got mode {img.mode!r}")
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    resized = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


def describe_source(source: object) -> str:
    """A short human-readable name for an input, used in error messages."""
    if isinstance(source, (str, os.PathLike)):
        return f"file {os.fspath(source)!r}"
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.mode} {source.width}x{source.height}>"
    return f"<{type(source).__name__}>"


def _read_bytes(source: ImageSource, label: str, max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        _check_size(len(data), label, max_bytes)
        return data
    if not isinstance(source, (str, os.PathLike)):
        raise ImageError(f"{label}: unsupported input type; pass a path, bytes or a PIL image")
    path = Path(source)
    try:
        # Stat first so an oversized file is rejected without reading it.
        _check_size(path.stat().st_size, label, max_bytes)
        return path.read_bytes()
    except ImageError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte in it
        raise ImageError(f"{label}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from exc


def _check_size(n_bytes: int, label: str, max_bytes: int) -> None:
    if n_bytes == 0:
        raise ImageError(f"{label}: is empty (0 bytes)")
    if n_bytes > max_bytes:
        raise ImageError(f"{label}: is {n_bytes} bytes, over the limit of {max_bytes} bytes")


def _open(data: bytes, label: str) -> Image.Image:
    # Image.open only parses the header; the pixel check runs before decoding.
    return _guarded(lambda: Image.open(io.BytesIO(data)), label)


def _check_pixels(img: Image.Image, label: str, max_pixels: int) -> None:
    width, height = img.size
    if width * height > max_pixels:
        raise ImageError(
            f"{label}: {width}x{height} = {width * height} pixels is over the limit "
            f"of {max_pixels} (possible decompression bomb)"
        )
    if width == 0 or height == 0:
        raise ImageError(f"{label}: has no pixels ({width}x{height})")


def _check_memory(img: Image.Image, label: str, max_decode_bytes: int) -> None:
    per_pixel = _PEAK_BYTES_PER_PIXEL.get(img.mode, _OTHER_MODES_PEAK)
    if img.mode == "P" and "transparency" in img.info:
        per_pixel = 1 + _PEAK_BYTES_PER_PIXEL["RGBA"]  # composited as RGBA
    # Any EXIF may turn the image (a copy); reading its orientation here would make Pillow
    # decode a PNG to look for EXIF after the pixels.
    if "exif" in img.info:
        per_pixel += _ROTATED_OR_PROGRESSIVE
    if img.format == "JPEG" and img.info.get("progressive"):
        per_pixel += _ROTATED_OR_PROGRESSIVE
    needed = img.width * img.height * per_pixel
    if needed > max_decode_bytes:
        raise ImageError(
            f"{label}: a {img.width}x{img.height} {img.mode} image needs about {needed // 2**20} MiB to "
            f"decode, over the limit of {max_decode_bytes // 2**20} MiB"
        )


def _check_frames(img: Image.Image, label: str, max_frames: int) -> None:
    # Pillow reads a declared count (APNG, WebP) or walks the frames' headers (GIF, TIFF), never
    # their pixels; only the first frame is ever decoded.
    frames = getattr(img, "n_frames", 1)
    if frames > max_frames:
        raise ImageError(f"{label}: has {frames} frames, over the limit of {max_frames}")


def _check_scans(data: bytes, label: str, max_scans: int) -> None:
    """Refuse a JPEG of more than ``max_scans`` scans. Segments are walked by their lengths and
    a scan's entropy-coded data up to the marker that ends it, so bytes inside metadata (an EXIF
    thumbnail) are not counted; the walk stops at the limit."""
    scans, at = 0, 2  # after SOI
    while scans <= max_scans and at + 4 <= len(data):
        if data[at] != 0xFF or data[at + 1] in _STANDALONE:  # entropy data, fill or garbage
            found = _JPEG_SEGMENT.search(data, at + 1)
            if found is None:
                break
            at = found.start()
        marker = data[at + 1]
        if marker == 0xD9 or at + 4 > len(data):  # EOI, or the end of a truncated file
            break
        (length,) = struct.unpack_from(">H", data, at + 2)
        at += 2 + length
        scans += marker == 0xDA
    if scans > max_scans:
        raise ImageError(f"{label}: a JPEG of more than {max_scans} scans, over the limit (each is a full pass)")


def _loaded(img: Image.Image) -> Image.Image:
    # Force a full decode so truncated or corrupt data fails here, not later.
    img.load()
    return img


def _upright(img: Image.Image, owned: bool) -> Image.Image:
    # A decoded file is ours to turn in place (one copy fewer); a caller's image is left as it is.
    if owned:
        ImageOps.exif_transpose(img, in_place=True)
        return img
    return ImageOps.exif_transpose(img)


def _guarded(step, label: str):
    """Run a Pillow step, turning every input-caused failure into ImageError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return step()
    except ImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError(f"{label}: rejected as a decompression bomb ({exc})") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageError(f"{label}: is not a recognised image format") from exc
    # Pillow's format plugins report malformed data with many exception types
    # (OSError, SyntaxError, struct.error, IndexError, ...); all of them are a
    # property of the input, so they are all reported as a bad image.
    except Exception as exc:  # noqa: BLE001
        reason = str(exc) or type(exc).__name__
        raise ImageError(f"{label}: is corrupt or truncated ({reason})") from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P":
        # A palette with a transparent index must be composited, not dropped.
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        return _to_rgb(img)
    if mode in _ALPHA_MODES:
        return _over_white(img)
    if mode == "1":
        return img.convert("L").convert("RGB")
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return _gray_from_array(np.asarray(img), mode)
    return img.convert("RGB")


def _over_white(img: Image.Image) -> Image.Image:
    # Transparent product cut-outs are shown on white in catalogues; black (what
    # a plain convert gives) would make them look alike for the wrong reason.
    if img.mode == "La":  # Pillow converts premultiplied La only to LA
        img = img.convert("LA")
    rgba = img if img.mode == "RGBA" else img.convert("RGBA")  # alpha_composite leaves its inputs alone
    background = Image.new("RGBA", rgba.size, _WHITE + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _gray_from_array(values: np.ndarray, mode: str) -> Image.Image:
    """Scale a high-depth grayscale array to 8 bits (Pillow would just clip). In place, on one
    float64 copy: the arithmetic is the same, the memory a third."""
    values = np.nan_to_num(values.astype(np.float64), copy=False)
    low, high = float(values.min()), float(values.max())
    if mode in _SIXTEEN_BIT_MODES:
        values /= 257.0
    elif mode == "F" and low >= 0 and high <= 1.0:
        values *= 255.0  # float images in the unit range
    elif low >= 0 and high <= 255:
        pass
    elif high > low:
        # 32-bit int / float data has no fixed range: stretch what is there.
        values -= low
        values *= 255.0 / (high - low)
    else:
        values[:] = 0
    gray = np.clip(np.rint(values, out=values), 0, 255, out=values).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")
