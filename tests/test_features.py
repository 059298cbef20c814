"""Merchandiser and shopper features against the real local Solr: tagging from examples,
clusters, navigation, preferences. Brute-force references are computed from the stored vectors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from embedder import clustering, contract, tagging
from embedder.client import LookalikeClient, Query
from embedder.errors import NotFound
from embedder.navigation import Navigator
from tests.helpers import all_vectors


@pytest.fixture(scope="module")
def client(demo_index, extractor):
    return LookalikeClient(demo_index, extractor=extractor)


def tagged_ids(index, attribute: tagging.Attribute) -> set[str]:
    fq = f'{attribute.field}:"{attribute.value}"'
    return {d["id"] for d in index.stream("id", fq=[fq])}


def test_tagging_changes_exactly_the_reviewed_products_and_keeps_their_vectors(client, demo_index):
    attribute = tagging.Attribute("style", "hawaiian")
    before = all_vectors(demo_index)
    examples = ["SKU0002", "SKU0017", "SKU0047"]
    preview = tagging.preview(client, examples, k=7, fq=["-category:shoe"])
    assert [h.id for h in preview.examples] == examples and len(preview.candidates) == 7
    assert preview.ranker.learned and preview.ranker.positives == 3
    assert all(h.fields["category"] != "shoe" for h in preview.hits)
    # Solr ranks by the learned w·x + b exactly as a brute force over every other product would
    categories = {i: d["category"] for i, d in demo_index.get(list(before), fl="id,category").items()}
    candidates = [i for i in before if i not in examples and categories[i] != "shoe"]
    values = dict(zip(candidates, preview.ranker.decision(np.array([before[i] for i in candidates]))))
    expected = sorted(candidates, key=lambda i: -values[i])[:7]
    assert [h.id for h in preview.candidates] == expected
    assert [h.score for h in preview.candidates] == pytest.approx([values[i] for i in expected], rel=1e-4, abs=1e-4)
    centroid = np.mean([before[i] for i in examples], axis=0)
    for example in preview.examples:  # examples show their own distance to the centroid
        assert example.distance == pytest.approx(((before[example.id] - centroid) ** 2).sum(), rel=1e-5)

    approved = [h.id for h in preview.hits[:-2]]  # the merchandiser unchecks the last two
    assert tagging.apply(demo_index, attribute, approved) == len(approved)
    assert tagged_ids(demo_index, attribute) == set(approved)
    after = all_vectors(demo_index)
    assert after.keys() == before.keys()
    assert all(np.array_equal(after[i], before[i]) for i in before)


def test_a_rejection_refits_the_ranking_and_reviewed_products_are_not_candidates_again(client, demo_index):
    examples = ["SKU0002", "SKU0017"]
    first = tagging.preview(client, examples, k=6)
    assert not first.ranker.learned, "two examples and no rejection: the centroid ranks"
    rejected = [h.id for h in first.candidates[:2]]
    accepted = [first.candidates[2].id]
    second = tagging.preview(client, examples, k=6, accepted=accepted, rejected=rejected)
    assert second.ranker.learned and second.ranker.positives == 3 and second.ranker.negatives == 2
    assert not {h.id for h in second.candidates} & {*examples, *accepted, *rejected}
    vectors = all_vectors(demo_index)
    decision = second.ranker.decision(np.array([vectors[i] for i in [*rejected, *accepted]]))
    assert decision[:2].max() < decision[2], "the rejected rank below the accepted"
    shown = [h.id for h in second.candidates]
    others = [i for i in vectors if i not in {*examples, *accepted, *rejected}]
    values = dict(zip(others, second.ranker.decision(np.array([vectors[i] for i in others]))))
    assert shown == sorted(others, key=lambda i: -values[i])[:6]


def test_tagging_refuses_unknown_products_and_writes_nothing(demo_index):
    attribute = tagging.Attribute("style", "unknown-test")
    with pytest.raises(NotFound, match="NOPE"):
        tagging.apply(demo_index, attribute, ["SKU0001", "NOPE"])
    assert tagged_ids(demo_index, attribute) == set()
    assert demo_index.get(["NOPE"]) == {}


@pytest.mark.parametrize("text", ["Style=x", "style", "style=", "1style=x"])
def test_attribute_names_are_checked(text):
    with pytest.raises(ValueError):
        tagging.Attribute.parse(text)


def test_clusters_cover_every_product_and_representatives_are_nearest_to_centroids(demo_index):
    result = clustering.cluster_catalog(demo_index, k=5, progress=False)
    vectors = all_vectors(demo_index)
    labels = {d["id"]: d[contract.CLUSTER_FIELD] for d in demo_index.stream(f"id,{contract.CLUSTER_FIELD}")}
    assert labels.keys() == vectors.keys()  # complete: every product got a cluster
    centroids = result.centroids.astype(np.float64)
    for product_id, vector in vectors.items():
        distances = ((centroids - vector) ** 2).sum(axis=1)
        assert distances[labels[product_id]] == pytest.approx(distances.min(), rel=1e-5)
    assert sum(c.size for c in result.clusters) == len(vectors)
    for cluster in result.clusters:
        members = [i for i, label in labels.items() if label == cluster.id]
        assert len(members) == cluster.size
        nearest = min(members, key=lambda i: (((vectors[i] - centroids[cluster.id]) ** 2).sum(), i))
        assert cluster.representative == nearest
    stored = clustering.load_clustering(demo_index)
    assert stored.clusters == result.clusters and np.array_equal(stored.centroids, result.centroids)

    attribute = tagging.Attribute("season", "summer")
    chosen = result.clusters[0]
    assert clustering.assign_attribute(demo_index, chosen.id, attribute) == chosen.size
    assert tagged_ids(demo_index, attribute) == {i for i, label in labels.items() if label == chosen.id}
    with pytest.raises(NotFound):
        clustering.assign_attribute(demo_index, 999, attribute)
    # the collection's own documents never show up in searches
    assert demo_index.count() == 60


def test_navigation_never_repeats_a_product_and_steps_towards_the_choice(client, demo_index):
    navigator = Navigator(client)
    session, gallery = navigator.start(size=6, fq=["-category:bag"])
    shown = [h.id for h in gallery]
    assert len(set(shown)) == 6 and all(h.fields["category"] != "bag" for h in gallery)
    for _ in range(5):
        choice, rejected = gallery[0].id, gallery[-1].id
        session, gallery = navigator.step(session.id, choice, reject=[rejected], k=6)
        assert gallery and all(h.fields["category"] != "bag" for h in gallery)
        shown += [h.id for h in gallery]
        assert len(shown) == len(set(shown)), "a product was shown twice"
    with pytest.raises(NotFound):
        navigator.step("no-such-session", "SKU0001")


def test_a_preference_filter_equals_the_brute_force_set(client, demo_index):
    vectors = all_vectors(demo_index)
    like, unlike = ["SKU0002", "SKU0005"], ["SKU0003"]
    p = np.mean([vectors[i] for i in like], axis=0)
    n = np.mean([vectors[i] for i in unlike], axis=0)
    target = p + 0.5 * (p - n)  # docs/query-syntax.md: t = p + w (p - n), w = 0.5
    distances = {i: float(((v - target) ** 2).sum()) for i, v in vectors.items()}
    cotton = {d["id"] for d in demo_index.stream("id", fq=["title:cotton"])}
    ordered = sorted(distances.values())
    max_dist = (ordered[20] + ordered[21]) / 2
    page = client.recommend(like, unlike, text="cotton", k=100, max_dist=max_dist, mode="filter")
    expected = {i for i, d in distances.items() if d <= max_dist and i in cotton} - set(like) - set(unlike)
    assert {h.id for h in page.hits} == expected and expected

    ranked = client.recommend(like, unlike, k=8, facets=["color"])
    candidates = sorted((i for i in vectors if i not in like + unlike), key=distances.get)
    assert [h.id for h in ranked.hits] == candidates[:8]
    assert [h.distance for h in ranked.hits] == pytest.approx([distances[i] for i in candidates[:8]], rel=1e-4)
    assert sum(ranked.facets["color"].values()) == ranked.total == 57


def test_visual_filter_needs_a_threshold():
    with pytest.raises(ValueError, match="max_dist"):
        Query(like=["A"], mode="filter")


def run_cli(index, *args: str) -> str:
    import subprocess
    import sys

    command = [sys.executable, "-m", "embedder.cli", "--solr", index.url.rsplit("/", 1)[0], *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_tag_and_cluster_commands(demo_index):
    out = run_cli(
        demo_index,
        "tag",
        "fabric=loud",
        "--example",
        "SKU0002",
        "--example",
        "SKU0017",
        "--example",
        "SKU0047",
        "-k",
        "4",
        "--yes",
    )
    listed = [line.split()[0] for line in out.splitlines()[1:] if line.startswith("SKU")]
    assert listed[:3] == ["SKU0002", "SKU0017", "SKU0047"] and len(listed) == 7
    assert "tagged 7 products with tag_fabric=loud" in out
    assert tagged_ids(demo_index, tagging.Attribute("fabric", "loud")) == set(listed)

    dry = run_cli(demo_index, "tag", "fabric=quiet", "--example", "SKU0001", "-k", "2")  # no --yes, no TTY
    assert "nothing written" in dry and not tagged_ids(demo_index, tagging.Attribute("fabric", "quiet"))

    out = run_cli(demo_index, "cluster", "-k", "3")
    rows = [line.split()[:3] for line in out.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert len(rows) == 3 and sum(int(size) for _, size, _ in rows) == 60
    titles = {d["id"]: d["title"] for d in demo_index.stream("id,title")}
    assert all(f"{rep}  {titles[rep]}" in out for _, _, rep in rows) and out.count("category: ") == 3
    labels = {d["id"]: d.get(contract.CLUSTER_FIELD) for d in demo_index.stream(f"id,{contract.CLUSTER_FIELD}")}
    assert all(label is not None for label in labels.values())
    representative_of = {int(c): rep for c, _, rep in rows}
    assert all(labels[rep] == c for c, rep in representative_of.items())

    members = {i for i, label in labels.items() if label == 0}
    out = run_cli(demo_index, "cluster", "--name", "0", "look=cluster-zero")
    assert f"tagged the {len(members)} products of cluster 0 with look=cluster-zero" in out
    assert tagged_ids(demo_index, tagging.Attribute("look", "cluster-zero")) == members


def test_navigation_sessions_are_bounded_in_count_and_lifetime(client, monkeypatch):
    import embedder.navigation as navigation

    navigator = Navigator(client, max_sessions=3)
    sessions = [navigator.start(size=2)[0] for _ in range(4)]
    with pytest.raises(NotFound):
        navigator.session(sessions[0].id)  # the least recently used beyond 3
    assert navigator.session(sessions[3].id) is sessions[3]
    clock = navigation.time.monotonic() + navigation.SESSION_IDLE_SECONDS + 1
    monkeypatch.setattr(navigation.time, "monotonic", lambda: clock)  # every session is now idle too long
    with pytest.raises(NotFound, match="expired"):
        navigator.session(sessions[3].id)


def test_search_prints_facet_counts_and_navigate_steers_away_from_rejects(demo_index):
    out = run_cli(demo_index, "search", "--text", "cotton", "-k", "3", "--facets", "color", "--facets", "category")
    colors = {d["color"] for d in demo_index.stream("id,color")}
    counts = {c: demo_index.count([f"color:{c}", "text:cotton"]) for c in colors}
    shown = next(line for line in out.splitlines() if line.startswith("color: "))
    assert shown == "color: " + ", ".join(
        f"{c} {n}" for c, n in sorted(counts.items(), key=lambda i: (-i[1], i[0])) if n
    )
    assert f"{sum(counts.values())} products in all" in out

    out = run_cli(
        demo_index, "search", "--text", "cotton", "-k", "50", "--filters", "color=red", "--filters", "color=blue"
    )
    ids = [line.split()[0] for line in out.splitlines() if line.startswith("SKU")]
    assert len(ids) == counts["red"] + counts["blue"]
    assert {d["color"] for d in demo_index.get(ids, fl="id,color").values()} == {"red", "blue"}

    out = run_cli(demo_index, "navigate", "SKU0002", "--reject", "SKU0003", "-k", "6")
    after = out.split("after choosing SKU0002:")[1]
    assert "SKU0003" not in after and "SKU0002" not in after and len(after.strip().splitlines()) == 7


def test_tag_reviews_each_candidate_on_a_terminal_and_json_writes_nothing(demo_index):
    import json
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    base = [sys.executable, "-m", "embedder.cli", "--solr", demo_index.url.rsplit("/", 1)[0], "tag", "fabric=soft"]
    args = ["--example", "SKU0002", "-k", "3"]
    listed = subprocess.run([*base, *args, "--json"], capture_output=True, text=True, timeout=300)
    candidates = [hit["id"] for hit in json.loads(listed.stdout)]
    assert listed.returncode == 0 and candidates[0] == "SKU0002" and len(candidates) == 4
    assert not tagged_ids(demo_index, tagging.Attribute("fabric", "soft")), "--json writes nothing"

    leader, follower = pty.openpty()  # a terminal: the review asks about one candidate at a time
    process = subprocess.Popen([*base, *args], stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    seen, unanswered, deadline = "", "", time.monotonic() + 300
    answers = iter(["y", "n", "", "y"])  # keep, reject, keep (Enter); then write
    asked: list[tuple[str, str]] = []  # (candidate, answer)
    while time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if not ready:
            continue
        try:
            text = os.read(leader, 4096).decode(errors="replace")
        except OSError:  # the command ended: the terminal is closed
            break
        seen, unanswered = seen + text, unanswered + text
        # Only text since the last answer counts: the terminal may echo a bare
        # Enter in a read of its own, and that must not read as the prompt again.
        if unanswered.rstrip().endswith(("[Y/n/a]", "[y/N]")):
            answer = next(answers, None)
            assert answer is not None, f"more prompts than candidates: {seen}"
            candidate = re.search(r"\[\d+/\d+\] (\S+) [^\n]*\[Y/n/a\]\s*$", unanswered)
            if candidate:
                asked.append((candidate.group(1), answer))
            os.write(leader, (answer + "\n").encode())
            unanswered = ""
    process.wait(timeout=60)
    os.close(leader)
    assert process.returncode == 0, seen
    assert len(asked) == 3 and asked[0][0] == candidates[1], seen  # the examples are not asked about
    assert len({c for c, _ in asked}) == 3, "a reviewed candidate is not asked about again"
    kept = {c for c, answer in asked if answer != "n"}
    assert tagged_ids(demo_index, tagging.Attribute("fabric", "soft")) == {"SKU0002", *kept}, seen


def test_the_background_sample_follows_products_added_and_deleted(demo_index, extractor):
    """The background is read once per collection, model and product count: a product added is
    in the next fit's sample, and once it is deleted the fit is the first one again."""
    client = LookalikeClient(demo_index, extractor=extractor)
    examples = ["SKU0002", "SKU0017", "SKU0047"]
    first = tagging.preview(client, examples, k=3).ranker
    copy = {k: v for k, v in demo_index.get(["SKU0001"], fl="*")["SKU0001"].items() if k != "_version_"}
    demo_index.add([{**copy, "id": "BACKGROUND-COPY"}])
    demo_index.commit()
    try:
        assert tagging.preview(client, examples, k=3).ranker.bias != first.bias
    finally:
        demo_index.delete(["BACKGROUND-COPY"])
        demo_index.commit()
    again = tagging.preview(client, examples, k=3).ranker
    assert again.bias == first.bias and np.array_equal(again.weights, first.weights)
