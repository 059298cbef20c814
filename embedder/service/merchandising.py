"""Merchandiser and shopper routes: tagging from examples, clusters, navigation, recommendation."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, jsonify

from embedder import clustering, options, tagging
from embedder.client import Hit
from embedder.errors import BadInput, NotFound
from embedder.options import Option
from embedder.service.api import DEFAULT_FACETS, hit_json, page_json, services
from embedder.service.guard import writes
from embedder.service.inputs import Payload

blueprint = Blueprint("merchandising", __name__)


def _attribute(payload: Payload) -> tagging.Attribute:
    name, value = payload.text("attribute", 64), payload.text("value", 200)
    if name is None or value is None:
        raise BadInput("attribute and value are required, e.g. attribute=style, value=hawaiian")
    return tagging.Attribute(name, value)


@blueprint.post("/tag/preview")
def tag_preview():
    payload = Payload()
    attribute = _attribute(payload)
    s = services()
    image = payload.image(allow_private=s.config.allow_private_urls, timeout=s.config.fetch_timeout)
    preview = tagging.preview(
        s.client,
        payload.ids("example_ids"),
        [image] if image else [],
        accepted=payload.ids("accepted_ids", max_items=tagging.MAX_REVIEWED),
        rejected=payload.ids("rejected_ids", max_items=tagging.MAX_REVIEWED),
        **payload.search(options.TAG_PREVIEW_REQUEST),
    )
    ranker = preview.ranker
    return jsonify(
        {
            "field": attribute.field,
            "candidates": [hit_json(h) for h in preview.hits],
            "ranker": {"learned": ranker.learned, "positives": ranker.positives, "rejected": ranker.negatives},
        }
    )


@blueprint.post("/tag/apply")
@writes
def tag_apply():
    payload = Payload()
    attribute = _attribute(payload)
    ids = payload.ids("ids", max_items=tagging.MAX_TAGGED)
    tagged = tagging.apply(services().index, attribute, ids)
    services().attributes_changed()
    return jsonify({"field": attribute.field, "tagged": tagged})


@blueprint.post("/tag/remove")
@writes
def tag_remove():
    payload = Payload()
    attribute = _attribute(payload)
    every = Option("all", "boolean", "", default=False).parse(payload.fields.get("all"))
    ids = payload.ids("ids", max_items=tagging.MAX_TAGGED)
    if every == bool(ids):
        raise BadInput("give ids, or all: true to remove it from every product that has it")
    removed = tagging.remove(services().index, attribute, None if every else ids)
    services().attributes_changed()
    return jsonify({"field": attribute.field, "removed": removed})


def _clusters_json(result: clustering.Clustering) -> dict:
    index = services().index
    docs = index.get([c.representative for c in result.clusters], fl="*")
    held = clustering.composition(index)
    return {
        "created_at": result.created_at,
        "pca_version": result.pca_version,
        "clusters": [
            {
                **asdict(c),
                "representative": hit_json(Hit.of_document(c.representative, docs.get(c.representative, {}))),
                "composition": held.get(c.id, {}),
            }
            for c in result.clusters
        ],
    }


@blueprint.post("/clusters")
@writes
def make_clusters():
    payload = Payload()
    result = clustering.cluster_catalog(services().index, k=payload.integer("k", 8, 2, 1000), progress=False)
    return jsonify(_clusters_json(result))


@blueprint.get("/clusters")
def get_clusters():
    result = clustering.load_clustering(services().index)
    if result is None:  # not clustered yet
        return jsonify({"clusters": [], "created_at": None, "pca_version": None})
    return jsonify(_clusters_json(result))


@blueprint.get("/clusters/<int:cluster_id>/members")
def cluster_members(cluster_id: int):
    """A page of a cluster's members, nearest its centroid first, within facet ``filters``
    (``?filters=color=red``, repeatable), with the matching members' count as total and their
    facet counts."""
    result = clustering.load_clustering(services().index)
    if result is None:
        raise NotFound("the catalog has not been clustered yet: POST /clusters")
    values = Payload().search(("k", "start", "filters"))
    facets = [*DEFAULT_FACETS, *services().attribute_fields()]  # what the members hold
    query = clustering.members_query(result, cluster_id, facets=facets, **values)
    return jsonify(page_json(services().client.run(query)))


@blueprint.post("/clusters/<int:cluster_id>/attribute")
@writes
def cluster_attribute(cluster_id: int):
    attribute = _attribute(Payload())
    tagged = clustering.assign_attribute(services().index, cluster_id, attribute)
    services().attributes_changed()
    return jsonify({"field": attribute.field, "tagged": tagged})


@blueprint.post("/navigate/start")
def navigate_start():
    payload = Payload()
    session, gallery = services().navigator.start(
        payload.integer("size", 12, 1, 100),
        payload.filters(),
        payload.id("choose"),
        payload.ids("reject"),
    )
    return jsonify({"session": session.id, "current": session.current, "gallery": [hit_json(h) for h in gallery]})


@blueprint.post("/navigate/step")
def navigate_step():
    payload = Payload()
    session_id, choose = payload.text("session", 100), payload.id("choose")
    if session_id is None or choose is None:
        raise BadInput("session and choose are required")
    session, gallery = services().navigator.step(
        session_id, choose, payload.ids("reject"), payload.integer("k", 12, 1, 100)
    )
    return jsonify({"session": session.id, "current": session.current, "gallery": [hit_json(h) for h in gallery]})


@blueprint.post("/recommend")
def recommend():
    payload = Payload()
    payload.refuse_unknown(options.RECOMMEND_REQUEST)
    values = payload.search(options.RECOMMEND_REQUEST)
    if not values.get("like"):
        raise BadInput("like: give 1 or more liked product ids")
    page = services().client.recommend(**values)
    return jsonify(page_json(page))
