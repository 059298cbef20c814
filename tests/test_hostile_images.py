"""Hostile images through the sidecar over HTTP: files that are cheap to send and expensive to
decode are refused from their headers with a 400 naming the limit, and an image whose decoding
never ends holds up no other request (its worker is stopped by the test, never timed)."""

from __future__ import annotations

import base64
import os
import signal
import threading
from pathlib import Path

import pytest
import requests

from embedder.decoding import DecodePool, model_input
from tests.test_decoding import GENEROUS, jpeg
from tests.test_images import apng, png_header_only, scan_bomb
from tests.test_seams_service import post, sidecar

BOMBS = {
    "a thousand scans": (scan_bomb(1000, (2000, 2000)), "more than 100 scans"),
    "a 40-megapixel RGBA PNG": (png_header_only(8000, 5000, colour_type=6), "needs about 762 MiB to decode"),
    "a million frames": (apng(3, 1_000_000), "over the limit of 1000"),
}


@pytest.mark.parametrize("path", ["/embed", "/search"])
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_images_expensive_to_decode_are_a_400_naming_the_limit(service_url, path, name):
    data, reason = BOMBS[name]
    assert len(data) < 200_000  # cheap to send
    answer = post(service_url, path, files={"image": ("x.jpg", data, "image/jpeg")})
    assert answer.status_code == 400 and reason in answer.json()["error"], answer.text
    assert "over the limit" in answer.json()["error"]


def hang_when_marked(source, size, max_decode_bytes):
    """Bytes b"HANG:<path>": the worker writes its pid to <path> and never answers."""
    if isinstance(source, bytes) and source.startswith(b"HANG:"):
        Path(source[5:].decode()).write_text(str(os.getpid()))
        threading.Event().wait()
    return model_input(source, size, max_decode_bytes)


def test_an_image_that_never_decodes_holds_up_no_other_request(demo_index, local_solr, extractor, tmp_path):
    with sidecar(local_solr.url, tmp_path, extractor) as (app, url):
        decoder = DecodePool(workers=2, timeout=GENEROUS, target=hang_when_marked)
        app.extensions["lookalike"].runtime.decoder = decoder
        pid_file = tmp_path / "hanging.pid"
        hostile = base64.b64encode(b"HANG:" + str(pid_file).encode()).decode()
        answers: list[requests.Response] = []
        stuck = threading.Thread(target=lambda: answers.append(post(url, "/embed", json={"image_base64": hostile})))
        stuck.start()
        for _ in range(int(GENEROUS * 10)):  # until its worker has the image
            if pid_file.exists() and pid_file.read_text():
                break
            stuck.join(0.1)
        # Meanwhile, another image is decoded and embedded, and a keyword search runs.
        image = post(url, "/search", files={"image": ("a.jpg", jpeg(), "image/jpeg")}, data={"k": "3"})
        assert image.status_code == 200 and len(image.json()["results"]) == 3, image.text
        keywords = post(url, "/search", json={"text": "bag", "k": 3})
        assert keywords.status_code == 200, keywords.text
        assert stuck.is_alive() and not answers  # the hostile one is still decoding
        os.kill(int(pid_file.read_text()), signal.SIGKILL)  # what the timeout does, without waiting for it
        stuck.join(GENEROUS)
        (answer,) = answers
        assert answer.status_code == 400 and "the decoder stopped" in answer.json()["error"], answer.text
        decoder.close()
