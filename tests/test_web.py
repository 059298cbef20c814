"""The web page end to end: headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium) against the real service over HTTP (waitress, in a thread) and a real local
Solr holding the generated demo catalog. Screenshots of every step, the browser's console log and
the last page state go to test-artifacts/web/."""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from embedder import contract, options, tagging
from embedder.config import Settings
from embedder.samples import query_image

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is absent: pip install -e '.[test]'")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "web"
# Debian's packages by default; elsewhere, point these at a Chromium/Chrome and its driver.
CHROMIUM = Path(os.environ.get("LOOKALIKE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("LOOKALIKE_CHROMEDRIVER", "/usr/bin/chromedriver"))
# A machine without network: keep Chromium from calling home (each refused connection costs).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1500,1100",
)
WAIT = 120  # seconds: the first search by image embeds it with InceptionV3 on the CPU
_ABSENT = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
pytestmark = pytest.mark.skipif(
    bool(_ABSENT),
    reason=f"{' and '.join(_ABSENT)} absent: install Debian's chromium and chromium-driver "
    "(scripts/setup-system.sh, run by `make test`, does)",
)


@contextmanager
def running_service(
    settings: Settings, extractor, image_roots: tuple[Path, ...], api_token: str | None = None
) -> Iterator[str]:
    """The real Flask app behind waitress (as in production) on a free port; yields its URL."""
    from waitress.server import create_server

    from embedder.service import ServiceConfig, create_app

    labels = {"tag_season": "Season of the year"}
    config = ServiceConfig(image_roots=image_roots, labels=labels, api_token=api_token)
    app = create_app(settings=settings, config=config, extractor=extractor)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="lookalike-web-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="lookalike-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The page's controls, found by their data-testid, and waits on its rendering."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.shots = 0

    def find(self, testid: str, within=None):
        return (within or self.driver).find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def find_all(self, testid: str, within=None) -> list:
        return (within or self.driver).find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def wait(self, condition, message: str):
        try:
            return WebDriverWait(self.driver, WAIT, poll_frequency=0.1).until(lambda _: condition(), message)
        except TimeoutException:
            raise AssertionError(f"{message}; message area: {self.message()!r}") from None

    def generation(self) -> int:
        """How many times the gallery has rendered (0 before the page is loaded)."""
        gallery = self.find_all("gallery")
        return int(gallery[0].get_attribute("data-generation")) if gallery else 0

    @contextmanager
    def new_gallery(self, what: str):
        """Waits, after the block, for the gallery to render again (and its images to load)."""
        before = self.generation()
        yield
        gallery = self.find("gallery")
        self.wait(
            lambda: self.generation() > before and gallery.get_attribute("data-state") == "ready",
            f"the gallery did not render {what}",
        )
        self.wait_for_images()

    def wait_for_images(self) -> None:
        """Waits for every image to load, and checks that none is broken."""
        images = "[...document.images].filter(i => i.getAttribute('src'))"
        self.wait(
            lambda: self.driver.execute_script(f"return {images}.every(i => i.complete)"),
            "images did not finish loading",
        )
        broken = self.driver.execute_script(f"return {images}.filter(i => !i.naturalWidth).map(i => i.src)")
        assert broken == [], f"images that did not load: {broken}"

    def results(self) -> list[dict]:
        return [
            {
                "id": card.get_attribute("data-id"),
                "distance": self.find("result-distance", card).text,
                "title": self.find("result-title", card).text,
            }
            for card in self.find_all("result", self.find("gallery"))
        ]

    def result_ids(self) -> list[str]:
        return [r["id"] for r in self.results()]

    def card(self, product_id: str):
        return self.driver.find_element(By.CSS_SELECTOR, f'#gallery .card[data-id="{product_id}"]')

    def message(self) -> str:
        box = self.driver.find_element(By.ID, "message")
        return "" if box.get_attribute("hidden") is not None else self.find("message-text").text

    def rect(self, element) -> dict:
        return self.driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", element)

    def message_kind(self) -> str | None:
        return self.find("message").get_attribute("data-kind")

    def fill(self, testid: str, value: str) -> None:
        field = self.find(testid)
        field.clear()
        field.send_keys(value)

    def screenshot(self, name: str) -> None:
        """The whole page (not only the window), through the DevTools protocol."""
        self.shots += 1
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        (ARTIFACTS / f"{self.shots:02d}-{name}.png").write_bytes(base64.b64decode(shot["data"]))


def distances(results: list[dict]) -> list[float]:
    return [float(r["distance"].removeprefix("distance ")) for r in results]


def test_search_navigate_tag_and_cluster_in_headless_chromium(local_solr, demo_index, extractor, tmp_path):
    index = demo_index  # the 60 generated demo products, indexed with the seeded-random weights
    catalog_file = demo_index.catalog_dir / "catalog.csv"
    catalog = {row["id"]: row for row in csv.DictReader(catalog_file.open(encoding="utf-8"))}
    vectors_before = {i: d["image_vector"] for i, d in index.get(list(catalog), fl="id,image_vector").items()}
    assert len(vectors_before) == 60
    query = tmp_path / "query-red-striped-tshirt.jpg"
    query_image("tshirt", "red", "striped").save(query, quality=92)

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    settings = Settings(solr_url=local_solr.url, collection=local_solr.collection, weights="none", home=tmp_path)
    # No --image-root: the catalog's images are served from the directory the indexing job recorded.
    with running_service(settings, extractor, ()) as base_url, chromium() as driver:
        page = Page(driver, base_url)
        try:
            _story(page, index, catalog, vectors_before, query)
        finally:  # what the page looked like at the end, passed or failed
            with suppress(Exception):
                page.screenshot("last")
                (ARTIFACTS / "last-page.html").write_text(driver.page_source, encoding="utf-8")
            console = driver.get_log("browser")
            (ARTIFACTS / "console.json").write_text(json.dumps(console, indent=1), encoding="utf-8")
    # No script errors; failed requests (the API's 4xx answers) are expected and shown on the page.
    assert [e for e in console if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]] == []


def test_the_page_asks_for_the_api_token_and_sends_it_with_each_write(local_solr, demo_index, extractor, tmp_path):
    token, guarded = "page-token", tagging.Attribute("guard", "on")
    every = [doc["id"] for doc in demo_index.stream("id")]
    tagging.apply(demo_index, guarded, every)
    settings = Settings(solr_url=local_solr.url, collection=local_solr.collection, weights="none", home=tmp_path)
    try:
        with running_service(settings, extractor, (), api_token=token) as base_url, chromium() as driver:
            page = Page(driver, base_url)
            with page.new_gallery("all products on load"):  # reads need no token
                driver.get(page.base_url + "/")
            first, second = page.result_ids()[:2]
            page.fill("tag-attribute", guarded.name)
            page.fill("tag-value", guarded.value)
            page.find("result-select", page.card(first)).click()

            def remove(answer: str | None) -> None:
                """Asks to remove the tag from the ticked products and answers the token prompt."""
                page.find("tag-remove").click()
                prompt = WebDriverWait(driver, WAIT).until(expected_conditions.alert_is_present())
                assert "API token" in prompt.text
                if answer is None:
                    prompt.dismiss()
                else:
                    prompt.send_keys(answer)
                    prompt.accept()

            for answer in (None, "wrong"):  # no token, a wrong one: refused, and nothing changes
                remove(answer)
                page.wait(lambda: page.message_kind() == "error", f"no error for the token {answer!r}")
                assert "LOOKALIKE_API_TOKEN" in page.message()
                assert guarded.value in demo_index.get([first])[first][guarded.field]
            with page.new_gallery("the gallery after the tag was removed"):
                remove(token)  # the wrong one kept for the tab is refused: the page asks again
            page.wait(lambda: page.message().startswith("Removed"), "the tag was not removed with the token")
            assert guarded.field not in demo_index.get([first])[first]
            page.find("result-select", page.card(second)).click()
            page.find("tag-remove").click()  # the token is kept for the tab: no prompt this time
            page.wait(lambda: "from 1 of 1" in page.message(), "the second write did not go through")
            assert guarded.field not in demo_index.get([second])[second]
            other = next(i for i in every if i not in (first, second))
            assert guarded.value in demo_index.get([other])[other][guarded.field]  # the others keep it
    finally:
        tagging.remove(demo_index, guarded)


def _story(page: Page, index, catalog: dict[str, dict], vectors_before: dict[str, str], query: Path) -> None:
    driver = page.driver
    with page.new_gallery("all products on load"):
        driver.get(page.base_url + "/")
    assert "Lookalike" in driver.title
    assert len(page.results()) == options.SEARCH["k"].default  # out of 60
    # The form's options come from the one declaration, through the service's schema.
    for name in ("k", "probe"):
        box = page.find(f"{name}-input")
        assert box.get_attribute("min") == f"{options.SEARCH[name].minimum:g}", name
        assert box.get_attribute("max") == f"{options.SEARCH[name].maximum:g}", name
    page.fill("probe-input", "2")  # reaches Solr, which says the demo's field type declares no cells
    page.find("search-button").click()
    page.wait(lambda: page.message_kind() == "error" and "probe" in page.message(), "no error for probe")
    page.fill("probe-input", "")
    assert page.find_all("facet-category-tshirt"), "facet counts from /search are rendered as checkboxes"
    page.wait(lambda: "products" in page.find("health").text, "the health line did not load")
    page.screenshot("home")

    # 1. An uploaded image, a keyword and a facet value: only striped T-shirts, nearest first.
    with page.new_gallery("the search by the uploaded image"):
        page.find("image-input").send_keys(str(query))
    assert page.find("query-preview").is_displayed()
    page.fill("text-input", "striped")
    with page.new_gallery("the keyword search"):
        page.find("search-button").click()
    with page.new_gallery("the search filtered by category:tshirt"):
        page.find("facet-category-tshirt").click()
    results = page.results()
    expected = {i for i, row in catalog.items() if row["category"] == "tshirt" and "striped" in row["title"].lower()}
    assert {r["id"] for r in results} == expected  # 5 colours: every striped T-shirt and nothing else
    docs = index.get([r["id"] for r in results])
    assert all(docs[r["id"]]["category"] == "tshirt" for r in results)
    assert distances(results) == sorted(distances(results))  # a visual ranking, nearest first
    assert results[0]["id"] == next(i for i in expected if catalog[i]["color"] == "red")
    assert page.find("facet-category-tshirt").is_selected()
    page.screenshot("search-image-keyword-facet")

    # 1b. Two values of one field: products of either, and the field still lists its other values.
    with page.new_gallery("T-shirts or dresses"):
        page.find("facet-category-dress").click()
    striped = {i for i, row in catalog.items() if "striped" in row["title"].lower()}
    both = {i for i in striped if catalog[i]["category"] in ("tshirt", "dress")}
    assert set(page.result_ids()) == both and {catalog[i]["category"] for i in both} == {"tshirt", "dress"}
    assert page.find_all("facet-category-shoe"), "a selected field keeps the counts of its other values"
    with page.new_gallery("T-shirts again"):
        page.find("facet-category-dress").click()

    # 2. Clicking a result shows its lookalikes; a second click goes on without repeats.
    with page.new_gallery("the search without the facet"):
        page.find("facet-category-tshirt").click()
    first = page.results()[0]["id"]
    shown = set(page.result_ids())
    with page.new_gallery(f"the lookalikes of {first}"):
        page.find("result-open", page.card(first)).click()
    step1 = page.result_ids()
    assert first in page.find("gallery-heading").text
    assert step1 and first not in step1 and len(set(step1)) == len(step1)
    assert set(step1) != shown
    page.screenshot("lookalikes-step-1")
    second, unwanted = step1[0], step1[1]
    page.find("result-reject", page.card(unwanted)).click()
    with page.new_gallery(f"the lookalikes of {second}"):
        page.find("result-open", page.card(second)).click()
    step2 = page.result_ids()
    assert second in page.find("gallery-heading").text
    assert step2 and len(set(step2)) == len(step2)
    assert not set(step2) & (set(step1) | {first, second}), "navigation repeated a product within its session"
    page.screenshot("lookalikes-step-2")
    assert unwanted in page.find("nav-rejected").text, "what was rejected is shown"
    with page.new_gallery("the previous step again"):
        page.find("nav-back").click()
    assert page.result_ids() == step1 and "step 1" in page.find("gallery-heading").text
    assert not page.find("nav-back").is_displayed(), "no step before the first"

    # 3. An API error is shown: a preview without any example.
    page.fill("tag-attribute", "style")
    page.fill("tag-value", "hawaiian")
    page.fill("tag-k", "8")
    page.find("tag-preview").click()
    page.wait(
        lambda: page.message_kind() == "error" and page.message(), "no error shown for a preview without examples"
    )
    page.screenshot("error-no-examples")
    page.find("message-close").click()
    assert page.message() == "", "a message can be dismissed"

    # 4. Three examples, a preview to review, one candidate unticked, then confirm.
    examples = page.result_ids()[:3]  # of the gallery shown: step 1 again
    for product_id in examples:
        page.find("result-select", page.card(product_id)).click()
    assert page.find("example-count").text == "3"
    page.find("tag-preview").click()
    page.wait(lambda: page.find("review").is_displayed() and page.find_all("candidate"), "no candidates to review")
    page.wait_for_images()
    candidates = [c.get_attribute("data-id") for c in page.find_all("candidate")]
    thumbnail = page.find_all("candidate")[0].find_element(By.TAG_NAME, "img")
    assert page.rect(thumbnail)["width"] >= 96, "review thumbnails big enough to judge a product"
    assert candidates[:3] == examples and len(candidates) == 3 + 8  # the examples, then 8 lookalikes
    assert page.find("review-ranker").text.startswith("Ranked by a model learned from 3 kept")

    def status():  # read in one script: the list is re-rendered after each answer
        items = "document.querySelectorAll('[data-testid=candidate]')"
        script = f"return [...{items}].map(c => [c.dataset.id, c.dataset.status])"
        return dict(page.driver.execute_script(script))

    def untick(product_id):
        item = next(c for c in page.find_all("candidate") if c.get_attribute("data-id") == product_id)
        page.find("candidate-keep", item).click()
        page.wait(lambda: status().get(product_id) == "rejected", f"{product_id} not rejected")

    untick(candidates[3])  # the first lookalike is wrong: the other seven re-rank without it
    page.wait(lambda: list(status().values()).count("pending") == 7, "the rest did not re-rank")
    assert page.find("review-ranker").text.startswith("Ranked by a model learned from 3 kept and 1 rejected")
    pending = [i for i, s in status().items() if s == "pending"]
    assert candidates[3] not in pending and not set(pending) & set(examples)
    untick(pending[-1])  # the last one too: the six above it are accepted, none is left to rank
    assert list(status().values()).count("accepted") == 6
    reviewed = [i for i, s in status().items() if s in ("example", "accepted")]
    assert len(reviewed) == 9 and page.find("tag-confirm").text == f"Tag {len(reviewed)} products"
    page.screenshot("tag-review")
    page.find("tag-confirm").click()
    page.wait(lambda: page.message().startswith("Tagged"), "the tagging was not confirmed")
    assert page.message_kind() == "info"
    after = index.get(list(catalog), fl="id,tag_style,image_vector")
    tagged = {i for i, doc in after.items() if "hawaiian" in doc.get("tag_style", [])}
    assert tagged == set(reviewed), f"tagged {sorted(tagged)}, reviewed {sorted(reviewed)}"
    assert {i: d.get("image_vector") for i, d in after.items()} == vectors_before  # vectors kept
    page.screenshot("tagged")

    # 4b. The tag removed again from two tagged products, ticked as examples.
    removable = [i for i in page.result_ids() if i in tagged][:2]
    assert removable, "the refreshed gallery shows the tagged examples"
    for product_id in removable:
        page.find("result-select", page.card(product_id)).click()
    page.find("tag-remove").click()
    page.wait(lambda: page.message().startswith("Removed"), "the tag was not removed")
    left = index.get(list(catalog), fl="id,tag_style")
    assert {i for i, d in left.items() if "hawaiian" in d.get("tag_style", [])} == tagged - set(removable)

    # 5. Cluster the catalog, show a cluster's members, give the cluster an attribute.
    page.fill("cluster-k", "4")
    page.find("cluster-button").click()
    page.wait(lambda: len(page.find_all("cluster")) > 0, "no clusters shown")
    page.wait_for_images()
    clusters = page.find_all("cluster")
    assert sum(int(page.find("cluster-size", c).text) for c in clusters) == 60
    cluster = clusters[0]
    cluster_id, size = cluster.get_attribute("data-cluster-id"), int(page.find("cluster-size", cluster).text)
    page.screenshot("clusters")
    with page.new_gallery(f"the members of cluster {cluster_id}"):
        page.find("cluster-open", cluster).click()
    shown = len(page.result_ids())
    assert shown == min(size, 10) and page.find("result-count").text == f"Showing {shown} of {size} products"
    for _ in range(size // 10 + 1):  # a page at a time, as many as the cluster needs
        if not page.find("load-more").is_displayed():
            break
        with page.new_gallery(f"the next page of cluster {cluster_id}"):
            page.find("load-more").click()
    members = set(page.result_ids())
    assert len(members) == len(page.result_ids()) == size, "every member once"
    assert page.find("result-count").text == f"Showing {size} of {size} products"
    assert f"Cluster {cluster_id}" in page.find("gallery-heading").text
    page.find("cluster-attribute", cluster).send_keys("season")
    page.find("cluster-value", cluster).send_keys("summer")
    page.find("cluster-assign", cluster).click()
    page.wait(lambda: page.message().startswith(f"Tagged {size} products of cluster"), "the cluster was not tagged")
    assert page.find_all("facet-tag_season-summer"), "the new attribute is offered as a facet"
    legend = page.find("facet-group-tag_season").find_element(By.TAG_NAME, "legend")
    assert legend.text == "Season of the year", "a label configured with serve --label"
    after = index.get(list(catalog), fl="id,cluster_id,tag_season")
    assert {i for i, d in after.items() if str(d.get("cluster_id")) == cluster_id} == members
    assert {i for i, d in after.items() if "summer" in d.get("tag_season", [])} == members
    page.screenshot("cluster-tagged")

    # A facet click inside a cluster filters its members and stays in the cluster.
    categories = index.get(sorted(members), fl="id,category")
    category = Counter(d["category"] for d in categories.values()).most_common(1)[0][0]
    expected = {i for i, d in categories.items() if d["category"] == category}
    with page.new_gallery(f"the {category} members of cluster {cluster_id}"):
        page.find(f"facet-category-{category}").click()
    assert page.find("gallery-heading").text.startswith(f"Cluster {cluster_id}"), "the facet left the cluster"
    shown = min(len(expected), 10)  # a page
    assert set(page.result_ids()) <= expected and len(page.result_ids()) == shown
    assert page.find(f"facet-category-{category}").is_selected()
    assert page.find("result-count").text == f"Showing {shown} of {len(expected)} products"
    with page.new_gallery(f"every member of cluster {cluster_id} again"):
        page.find(f"facet-category-{category}").click()
    assert len(page.result_ids()) == min(size, 10) and f"of {size} products" in page.find("result-count").text

    # 6. Re-clustering replaces the old cluster's gallery; browsing drops what no longer applies.
    with page.new_gallery("every product again, after re-clustering"):
        page.fill("cluster-k", "3")
        page.find("cluster-button").click()
    page.wait(lambda: len(page.find_all("cluster")) == 3, "the new clusters are not shown")
    assert not page.find("gallery-heading").text.startswith("Cluster"), "the old cluster's gallery stayed"
    page.fill("text-input", "cotton")
    with page.new_gallery("a diverse gallery"):
        page.find("browse-button").click()
    assert page.find("text-input").get_attribute("value") == "" and not page.find("query-preview").is_displayed()
    assert not [c for c in page.find_all("facets") if "(" in c.text], "no stale facet counts while browsing"

    # 7. A narrow window shows the results before the filters.
    page.driver.set_window_size(800, 1000)
    assert page.rect(page.find("gallery"))["top"] < page.rect(page.find("facets"))["top"]
    page.screenshot("narrow")

    # 8. A field with many values: the most frequent first, "Show all", and a box to narrow them.
    for i in range(10):
        tagging.apply(index, tagging.Attribute("batch", f"b{i}"), [f"SKU{i + 1:04d}"])
    page.driver.set_window_size(1400, 1000)
    page.fill("k-input", "60")
    for _ in range(2):  # the first search shows the new field on products, the second counts it
        with page.new_gallery("every product"):
            page.find("search-button").click()
    group = page.find("facet-group-tag_batch")

    def listed() -> list[str]:
        return [o.text for o in group.find_elements(By.CSS_SELECTOR, ".facet-option") if o.is_displayed()]

    assert listed() == [f"b{i} (1)" for i in range(8)]
    page.find("facet-more-tag_batch").click()
    group = page.find("facet-group-tag_batch")
    assert len(listed()) == 10 and page.find("facet-more-tag_batch").text == "Show fewer"
    page.find("facet-filter-tag_batch").send_keys("b1")
    assert listed() == ["b1 (1)"]
    page.screenshot("facet-show-all")

    # 9. A product whose image lies outside the served roots: its card says nothing, the page once.
    outside = Path(tempfile.mkdtemp()) / "hidden.jpg"
    shutil.copy(index.catalog_dir / "images" / "SKU0005.jpg", outside)
    index.add([{"id": "HIDDEN1", "title": "A hidden parasol", contract.IMAGE_URL_FIELD: str(outside)}])
    index.commit()
    page.fill("text-input", "parasol")
    before = page.generation()
    page.find("search-button").click()
    page.wait(lambda: page.generation() > before, "the gallery did not render")
    page.wait(lambda: page.message_kind() == "warning", "no word on the missing image")
    assert "--image-root" in page.message() and "no-image" in page.card("HIDDEN1").get_attribute("class")
    index.delete(["HIDDEN1"])
    index.commit()

    # 10. Every control has a name a screen reader says and is reachable by keyboard; nothing
    # was fetched from anywhere but the sidecar.
    unnamed = page.driver.execute_script(
        """return [...document.querySelectorAll('button, input, select, textarea')]
          .filter(c => !c.closest('[hidden]') && c.type !== 'hidden')
          .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                       && !c.textContent.trim() && !c.placeholder)
          .map(c => c.outerHTML.slice(0, 120))"""
    )
    assert unnamed == [], unnamed
    assert (
        page.driver.execute_script("return document.querySelectorAll('[tabindex]:not([tabindex=\"0\"])').length") == 0
    )
    origins = page.driver.execute_script(
        "return [...new Set(performance.getEntriesByType('resource').map(r => new URL(r.name).origin))]"
    )
    assert origins == [page.base_url], origins
