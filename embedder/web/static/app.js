// Lookalike's page: search by image + keywords + facets, navigate by lookalikes, tag an attribute
// from examples, browse clusters. A plain ES module with no dependencies, over the sidecar's JSON API.

const DEFAULT_FACETS = ["category", "color", "brand"];
const NAV_MAX = 100; // /navigate/* galleries hold 1 to 100 products
const FACET_SHOWN = 8; // values of a field listed before "Show all"
const FACET_LABELS = { category: "Category", color: "Colour", brand: "Brand", cluster_id: "Cluster" };

const state = {
  query: null, // the query image: {kind: "file", file} or {kind: "id", id}
  filters: new Map(), // facet field -> Set of checked values
  expanded: new Set(), // facet fields showing every value
  trail: [], // the navigation galleries so far, {heading, results}, for the Back step
  navRejected: [], // ids rejected during this navigation
  labels: {}, // field -> its name here, as the service is configured (GET /labels)
  imagesExplained: false, // why an image is missing was said
  facetFields: new Set(DEFAULT_FACETS), // asked of /search; tagged attributes join them
  selected: new Map(), // example id -> result, for tagging
  rejected: new Set(), // ids marked "not like this", sent with the next navigation step
  nav: null, // {session, step} while navigating by lookalikes
  review: null, // the tag being reviewed: its request, examples, accepted, rejected and pending candidates
  mode: "search", // what the gallery shows: "search", "navigate" or "cluster" (state.cluster's members)
  cluster: null,
  ticket: 0, // only the latest gallery request renders
  generation: 0, // gallery renders so far (data-generation, for tests)
  ids: 0, // unique element ids
};

const $ = (id) => document.getElementById(id);
const uid = (prefix) => `${prefix}-${++state.ids}`;
const titleOf = (result) => result?.fields?.title ?? result?.id ?? "";

// ---- helpers --------------------------------------------------------------------------------

/** A DOM element: attrs are attributes, "text" its text, "on<event>" its listeners. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Calls the API: resolves to the JSON body, or throws an Error with the API's message. A write
 * refused for want of the sidecar's API token (401) asks for it once; it is kept for the tab. */
async function api(path, { method = "GET", json, form, asked = false } = {}) {
  const init = { method, headers: { Accept: "application/json" }, body: form };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const token = sessionStorage.getItem("lookalike-token");
  if (token) init.headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, init);
  const body = await response.json().catch(() => null);
  if (response.status === 401 && !asked) {
    const given = window.prompt("Changes on this sidecar need its API token:");
    if (given) {
      sessionStorage.setItem("lookalike-token", given.trim());
      return api(path, { method, json, form, asked: true });
    }
  }
  if (!response.ok) {
    const error = new Error(body?.error ?? `${method} ${path}: HTTP ${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

const post = (path, json) => api(path, { method: "POST", json });

function showMessage(text, kind = "info") {
  const box = $("message");
  $("message-text").textContent = text;
  box.dataset.kind = kind;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.hidden = false;
}

/** Runs an action; its error (the API's message) goes to the message area. */
async function guarded(action) {
  $("message").hidden = true; // a message is about the last action, not this one
  try {
    await action();
  } catch (error) {
    showMessage(error.message, "error");
  }
}

const quote = (value) => `"${String(value).replace(/[\\"]/g, "\\$&")}"`;
const formatDistance = (d) => (typeof d === "number" ? `distance ${d.toPrecision(4)}` : "");
const numberOrNull = (input) => (input.value.trim() === "" ? null : Number(input.value));
const ATTRIBUTE = /^(attr|tag)_/; // the catalog's columns and the merchandisers' tags
const facetLabel = (field) => state.labels[field] ?? FACET_LABELS[field] ?? field.replace(ATTRIBUTE, "");

/** The checked facet values by field, as /search takes them: the service ORs values within a
 * field, ANDs fields, and keeps the counts of a selected field's other values. */
const selections = () => Object.fromEntries([...state.filters].map(([field, values]) => [field, [...values]]));

/** The same as Solr filter queries, for the requests that take only `fq` (navigation, tagging). */
function filterQueries() {
  return [...state.filters].filter(([, values]) => values.size).map(([field, values]) => {
    const quoted = [...values].map(quote);
    return quoted.length === 1 ? `${field}:${quoted[0]}` : `${field}:(${quoted.join(" OR ")})`;
  });
}

// ---- the gallery ----------------------------------------------------------------------------

/** Fetches a gallery and renders it, unless a later request was made meanwhile. With
 * `pageAt(start)` (a request for the page from `start` on), "Load more" appends the next page. */
async function loadGallery(request, heading, mode, pageAt = null) {
  const ticket = ++state.ticket;
  state.more = null;
  const gallery = $("gallery");
  gallery.dataset.state = "loading";
  gallery.setAttribute("aria-busy", "true");
  try {
    const body = await request();
    if (ticket !== state.ticket) return;
    if ($("message").dataset.kind === "error") $("message").hidden = true; // it worked now
    state.mode = mode;
    const results = body.results ?? body.gallery ?? [];
    renderGallery(results, heading, mode);
    if (pageAt) state.more = { pageAt, shown: results.length, total: body.total };
    renderCount();
    renderFacets(body.facets ?? null);
    if (mode === "navigate") state.trail.push({ heading, results });
    else state.trail = [];
    renderTrail();
  } catch (error) {
    if (ticket === state.ticket) showMessage(error.message, "error");
  } finally {
    if (ticket === state.ticket) {
      gallery.dataset.state = "ready";
      gallery.removeAttribute("aria-busy");
    }
  }
}

/** Navigation's way back: a Back step while there is an earlier gallery, and what was rejected. */
function renderTrail() {
  $("nav-back").hidden = state.mode !== "navigate" || state.trail.length < 2;
  const rejected = state.mode === "navigate" ? state.navRejected : [];
  $("nav-rejected").textContent = rejected.length ? `Steering away from: ${rejected.join(", ")}` : "";
}

/** Shows the previous navigation gallery again (the session goes on from wherever is chosen next). */
function back() {
  state.trail.pop();
  const { heading, results } = state.trail.at(-1);
  renderGallery(results, heading, "navigate");
  renderTrail();
}

/** "Showing N of TOTAL", and "Load more" while there is more. */
function renderCount() {
  const more = state.more;
  $("result-count").textContent = more ? `Showing ${more.shown} of ${more.total} products` : "";
  $("load-more").hidden = !more || more.shown >= more.total;
}

/** Appends the next page of the gallery. */
async function loadMore() {
  const ticket = state.ticket;
  const more = state.more;
  const body = await more.pageAt(more.shown)();
  if (ticket !== state.ticket) return; // another gallery replaced this one meanwhile
  const results = body.results ?? [];
  $("gallery").append(...results.map(makeCard));
  Object.assign(more, { shown: more.shown + results.length, total: body.total });
  renderCount();
  $("gallery").dataset.generation = String(++state.generation);
}

function renderGallery(results, heading, mode) {
  const gallery = $("gallery");
  gallery.dataset.mode = mode;
  $("gallery-heading").textContent = heading;
  gallery.replaceChildren(...results.map(makeCard));
  if (!results.length) gallery.append(el("li", { class: "empty", text: "No products." }));
  for (const result of results) {
    for (const name of Object.keys(result.fields ?? {})) if (ATTRIBUTE.test(name)) state.facetFields.add(name);
  }
  gallery.dataset.generation = String(++state.generation);
}

function makeCard(result) {
  const card = $("card-template").content.firstElementChild.cloneNode(true);
  const title = titleOf(result);
  const part = (testid) => card.querySelector(`[data-testid=${testid}]`);
  card.dataset.id = result.id;
  card.classList.toggle("rejected", state.rejected.has(result.id));
  part("result-open").setAttribute("aria-label", `Show lookalikes of ${title} (${result.id})`);
  part("result-open").addEventListener("click", () => guarded(() => navigateTo(result)));
  const image = card.querySelector("img");
  Object.assign(image, { src: result.image, alt: title });
  image.addEventListener("error", () => imageMissing(card), { once: true });
  part("result-title").textContent = title;
  part("result-id").textContent = result.id;
  part("result-distance").textContent = formatDistance(result.distance);
  part("result-facets").textContent = describe(result.fields ?? {});
  const pick = part("result-select");
  pick.checked = state.selected.has(result.id);
  pick.setAttribute("aria-label", `Use ${title} (${result.id}) as an example`);
  pick.addEventListener("change", () => toggleExample(result, pick.checked));
  part("result-query").setAttribute("aria-label", `Search with the image of ${title} (${result.id})`);
  part("result-query").addEventListener("click", () => guarded(() => useAsQuery(result)));
  const reject = part("result-reject");
  reject.setAttribute("aria-label", `Not like ${title} (${result.id})`);
  reject.setAttribute("aria-pressed", String(state.rejected.has(result.id)));
  reject.addEventListener("click", () => toggleReject(result.id, card, reject));
  return card;
}

/** A card whose image the service does not serve; the page says why, once. */
function imageMissing(card) {
  card.classList.add("no-image");
  if (state.imagesExplained) return;
  state.imagesExplained = true;
  showMessage("Some product images cannot be shown: the service serves local images only from its home, " +
    "the directories of the catalogs indexed into the collection, and each `serve --image-root`.", "warning");
}

function describe(fields) {
  const parts = [fields.category, fields.color, fields.brand];
  for (const [name, value] of Object.entries(fields)) {
    if (ATTRIBUTE.test(name)) parts.push(`${facetLabel(name)}: ${[].concat(value).join(", ")}`);
  }
  if (fields.cluster_id !== undefined) parts.push(`cluster ${fields.cluster_id}`);
  return parts.filter((part) => part !== undefined && part !== null).join(" · ");
}

// ---- search and facets ----------------------------------------------------------------------

/** The search form's option inputs, one per option the service's schema marks for the page
 * (x-page), with its type, bounds, default and help: declared once, in embedder/options.py. */
async function buildSearchOptions() {
  const spec = await api("/openapi.json");
  const properties = spec.components.schemas.SearchRequest.properties;
  state.pageOptions = Object.entries(properties).filter(([, schema]) => schema["x-page"]);
  $("search-options").replaceChildren(...state.pageOptions.map(([name, schema]) => optionInput(name, schema)));
}

function optionInput(name, schema) {
  const id = `${name.replaceAll("_", "-")}-input`;
  const label = el("label", { for: id, text: schema.title ?? name, title: schema.description });
  if (schema.type === "boolean") {
    const box = el("input", { id, name, type: "checkbox", "data-testid": id, title: schema.description });
    box.checked = schema.default === true;
    return el("div", { class: "field check" }, box, label);
  }
  const input = el("input", { id, name, type: "number", "data-testid": id, title: schema.description,
    step: schema.type === "integer" ? "1" : "any", placeholder: schema.default === undefined ? "none" : "" });
  for (const bound of ["minimum", "maximum"]) if (schema[bound] !== undefined) input[bound.slice(0, 3)] = schema[bound];
  if (schema.default !== undefined) input.value = String(schema.default);
  return el("div", { class: "field small" }, label, input);
}

/** The values of the page's option inputs, by option name (empty number inputs are left out). */
function pageOptionValues() {
  const values = {};
  for (const [name, schema] of state.pageOptions ?? []) {
    const input = $(`${name.replaceAll("_", "-")}-input`);
    values[name] = schema.type === "boolean" ? input.checked : numberOrNull(input);
  }
  return values;
}

/** The number of results a gallery shows: the k input, or its declared default. */
const pageSize = () => pageOptionValues().k ?? 10;

function search(heading) {
  state.nav = null;
  state.navRejected = [];
  const text = $("text-input").value.trim();
  const options = { text, filters: selections(), facets: [...state.facetFields], ...pageOptionValues() };
  const query = state.query;
  const pageAt = (start) => {
    if (query?.kind !== "file") {
      return () => post("/search", { ...options, start, ...(query?.kind === "id" ? { id: query.id } : {}) });
    }
    const form = new FormData();
    form.append("image", query.file, query.file.name);
    const { filters, ...rest } = { ...options, start };
    for (const [name, value] of Object.entries(rest)) {
      for (const item of [].concat(value)) if (item !== null && item !== "") form.append(name, String(item));
    }
    for (const [field, values] of Object.entries(filters)) {
      for (const value of values) form.append("filters", `${field}=${value}`);
    }
    return () => api("/search", { method: "POST", form });
  };
  const subject = query ? "Lookalikes of the query image" : text ? "Keyword search" : "All products";
  return loadGallery(pageAt(0), heading ?? `${subject}${text ? ` · “${text}”` : ""}`, "search", pageAt);
}

/** Runs the search again when the gallery shows one (after tagging: new attribute facets). */
const refreshSearch = () => (state.mode === "search" ? search($("gallery-heading").textContent) : null);

/** Facet groups from the API's [value, count] lists (highest count first); a checked value
 * that no longer matches stays listed, with 0, so that it can be unticked. `null`: a gallery
 * without counts (navigation), where only the checked filters, which it honours, are listed. */
function renderFacets(facets) {
  const order = [...state.facetFields, ...Object.keys(facets ?? {}), ...state.filters.keys()];
  const groups = [...new Set(order)].map((field) => {
    const values = [...(facets?.[field] ?? [])];
    for (const value of state.filters.get(field) ?? []) {
      if (!values.some(([listed]) => listed === value)) values.push([value, facets === null ? null : 0]);
    }
    return values.length ? facetGroup(field, values) : null;
  });
  $("facets").replaceChildren(...groups.filter(Boolean));
}

/** A field's values: the FACET_SHOWN most frequent (and every checked one), or with "Show all"
 * every value and a box that narrows them by name. */
function facetGroup(field, values) {
  const expanded = state.expanded.has(field);
  const shown = expanded ? values : values.filter(([value], i) => i < FACET_SHOWN || isChecked(field, value));
  const options = shown.map(([value, count]) => facetOption(field, value, count));
  const group = el("fieldset", { class: "facet", "data-testid": `facet-group-${field}` },
    el("legend", { text: facetLabel(field) }));
  if (expanded) {
    const box = el("input", { type: "search", placeholder: `Filter ${facetLabel(field)}`,
      "aria-label": `Filter the values of ${facetLabel(field)}`, "data-testid": `facet-filter-${field}`,
      oninput: () => {
        const typed = box.value.trim().toLowerCase();
        for (const [i, option] of options.entries()) option.hidden = !shown[i][0].toLowerCase().includes(typed);
      } });
    group.append(box);
  }
  group.append(...options);
  if (values.length > FACET_SHOWN) {
    group.append(el("button", { type: "button", class: "link", "data-testid": `facet-more-${field}`,
      text: expanded ? "Show fewer" : `Show all ${values.length}`,
      onclick: () => {
        if (!state.expanded.delete(field)) state.expanded.add(field);
        group.replaceWith(facetGroup(field, values));
      } }));
  }
  return group;
}

const isChecked = (field, value) => state.filters.get(field)?.has(value) ?? false;

function facetOption(field, value, count) {
  const id = uid("facet");
  const box = el("input", { type: "checkbox", id, "data-testid": `facet-${field}-${value}`,
    checked: isChecked(field, value), onchange: (event) => toggleFilter(field, value, event.target.checked) });
  return el("div", { class: "facet-option" }, box,
    el("label", { for: id }, `${value} `, count === null ? "" : el("span", { class: "count", text: `(${count})` })));
}

function toggleFilter(field, value, checked) {
  const values = state.filters.get(field) ?? new Set();
  if (checked) values.add(value);
  else values.delete(value);
  if (values.size) state.filters.set(field, values);
  else state.filters.delete(field);
  return state.mode === "cluster" ? showCluster(state.cluster, true) : search();
}

function setQuery(query, src, caption) {
  state.query = query;
  if (src) $("query-preview-img").src = src;
  else $("query-preview-img").removeAttribute("src");
  $("query-preview-caption").textContent = caption ?? "";
  $("query-preview").hidden = !query;
  if (query?.kind !== "file") $("image-input").value = "";
}

function useAsQuery(result) {
  setQuery({ kind: "id", id: result.id }, result.image, `Product ${result.id}: ${titleOf(result)}`);
  return search();
}

// ---- navigation by lookalikes ---------------------------------------------------------------

/** A step to the clicked product's lookalikes; a session never shows a product twice. */
function navigateTo(result) {
  const k = Math.min(pageSize(), NAV_MAX); // a step shows at most 100
  const reject = [...state.rejected].filter((id) => id !== result.id);
  const step = (state.nav?.step ?? 0) + 1;
  leaveSearch();
  return loadGallery(async () => {
    const body = state.nav
      ? await post("/navigate/step", { session: state.nav.session, choose: result.id, reject, k })
      : await post("/navigate/start", { choose: result.id, reject, size: k, fq: filterQueries() });
    state.nav = { session: body.session, step };
    state.navRejected = [...new Set([...state.navRejected, ...reject])];
    state.rejected.clear();
    return body;
  }, `Lookalikes of ${titleOf(result)} (${result.id}) · step ${step}`, "navigate");
}

/** Navigation follows images and the filters: the query image and the keywords no longer apply. */
function leaveSearch() {
  setQuery(null);
  $("text-input").value = "";
}

function browse() {
  state.rejected.clear();
  state.navRejected = [];
  state.trail = [];
  leaveSearch();
  return loadGallery(async () => {
    const body = await post("/navigate/start", { size: Math.min(pageSize(), NAV_MAX), fq: filterQueries() });
    state.nav = { session: body.session, step: 0 };
    return body;
  }, "Diverse products: click the one closest to what you want", "navigate");
}

function toggleReject(id, card, button) {
  if (!state.rejected.delete(id)) state.rejected.add(id);
  card.classList.toggle("rejected", state.rejected.has(id));
  button.setAttribute("aria-pressed", String(state.rejected.has(id)));
}

// ---- tagging from examples ------------------------------------------------------------------

function toggleExample(result, checked) {
  if (checked) state.selected.set(result.id, result);
  else state.selected.delete(result.id);
  renderExamples();
}

function renderExamples() {
  $("example-count").textContent = String(state.selected.size);
  $("examples").replaceChildren(...[...state.selected.values()].map((result) =>
    el("li", { "data-testid": "example", "data-id": result.id },
      el("img", { src: result.image, alt: titleOf(result) }),
      el("button", { type: "button", class: "link", text: "remove", "aria-label": `Remove example ${result.id}`,
        onclick: () => unselect(result.id) }))));
  for (const box of document.querySelectorAll("#gallery [data-testid=result-select]")) {
    box.checked = state.selected.has(box.closest(".card").dataset.id);
  }
}

function unselect(id) {
  state.selected.delete(id);
  renderExamples();
}

/**
 * A review goes top down, as on the command line: unticking a candidate rejects it and accepts
 * the ticked ones above it; ticking a rejected one back accepts it. Each answer re-ranks the rest
 * with a model learned from the answers so far (POST /tag/preview with accepted and rejected ids).
 */
async function previewTag() {
  const attribute = $("tag-attribute").value.trim();
  const value = $("tag-value").value.trim();
  const request = {
    attribute, value, example_ids: [...state.selected.keys()], k: numberOrNull($("tag-k")) ?? 20,
    max_dist: numberOrNull($("tag-max-dist")), fq: $("tag-within-filters").checked ? filterQueries() : [],
  };
  const body = await post("/tag/preview", request);
  const examples = body.candidates.filter((c) => state.selected.has(c.id));
  state.review = {
    attribute, value, request, field: body.field, ranker: body.ranker, examples, accepted: [], rejected: [],
    pending: body.candidates.filter((c) => !state.selected.has(c.id)), dropped: new Set(),
  };
  renderReview();
  showMessage(`${state.review.pending.length} candidates for ${attribute} = ${value}: review them, then confirm.`);
}

/** Applies an answer about a candidate, then re-ranks what is not reviewed yet. */
async function answer(candidate, keep) {
  const review = state.review;
  const at = review.pending.findIndex((c) => c.id === candidate.id);
  if (at >= 0 && !keep) {
    review.accepted.push(...review.pending.slice(0, at));
    review.rejected.push(candidate);
  } else if (keep) {
    review.rejected = review.rejected.filter((c) => c.id !== candidate.id);
    review.accepted.push(candidate);
  } else {
    review.accepted = review.accepted.filter((c) => c.id !== candidate.id);
    review.rejected.push(candidate);
  }
  const left = review.request.k - review.accepted.length - review.rejected.length;
  review.pending = [];
  if (left > 0) {
    const body = await post("/tag/preview", {
      ...review.request, k: left,
      accepted_ids: review.accepted.map((c) => c.id), rejected_ids: review.rejected.map((c) => c.id),
    });
    review.ranker = body.ranker;
    review.pending = body.candidates.filter((c) => !state.selected.has(c.id));
  }
  renderReview();
}

function renderReview() {
  const review = state.review;
  $("review").hidden = !review;
  if (!review) {
    $("review-list").replaceChildren();
    return;
  }
  $("review-list").replaceChildren(
    ...review.examples.map((c) => reviewItem(c, "example")),
    ...review.accepted.map((c) => reviewItem(c, "accepted")),
    ...review.rejected.map((c) => reviewItem(c, "rejected")),
    ...review.pending.map((c) => reviewItem(c, "pending")));
  $("review-heading").textContent = `Review: ${review.attribute} = ${review.value} (${review.field})`;
  $("review-ranker").textContent = review.ranker.learned
    ? `Ranked by a model learned from ${review.ranker.positives} kept and ${review.ranker.rejected} rejected products.`
    : "Ranked by distance to the examples; untick a wrong candidate to teach the ranking.";
  updateConfirm();
}

function reviewItem(candidate, status) {
  const id = uid("review");
  const review = state.review;
  const checked = status === "example" ? !review.dropped.has(candidate.id) : status !== "rejected";
  const onchange = (ev) => guarded(() => {
    if (status !== "example") return answer(candidate, ev.target.checked);
    if (ev.target.checked) review.dropped.delete(candidate.id); else review.dropped.add(candidate.id);
    updateConfirm();
  });
  const detail = status === "pending" ? el("span", { class: "distance", text: rankOf(candidate) })
    : el("strong", { class: "badge", text: status });
  return el("li", { class: `review-item ${status}`, "data-testid": "candidate", "data-id": candidate.id, "data-status": status },
    el("input", { type: "checkbox", id, checked, "data-testid": "candidate-keep", onchange }),
    el("label", { for: id },
      el("img", { src: candidate.image, alt: "" }),
      el("span", { class: "review-text" },
        el("span", { class: "card-title", text: titleOf(candidate) }),
        el("span", {}, el("code", { text: candidate.id }), " ", detail))));
}

/** How a candidate ranks: its distance, or its learned score. */
const rankOf = (c) => (typeof c.distance === "number" ? formatDistance(c.distance) : `score ${c.score.toPrecision(4)}`);

function reviewedIds() {
  return [...document.querySelectorAll("#review-list [data-testid=candidate]")]
    .filter((item) => item.querySelector("input").checked).map((item) => item.dataset.id);
}

function updateConfirm() {
  const count = reviewedIds().length;
  $("tag-confirm").textContent = `Tag ${count} product${count === 1 ? "" : "s"}`;
  $("tag-confirm").disabled = count === 0;
}

/** Writes the attribute into exactly the reviewed (still ticked) products. */
async function confirmTag() {
  const { attribute, value } = state.review;
  const body = await post("/tag/apply", { attribute, value, ids: reviewedIds() });
  state.facetFields.add(body.field);
  state.review = null;
  renderReview();
  state.selected.clear();
  renderExamples();
  await refreshSearch();
  showMessage(`Tagged ${body.tagged} products with ${attribute} = ${value} (field ${body.field}).`);
}

/** Removes the attribute value from the selected example products. */
async function removeTag() {
  const form = $("tag-form");
  if (!form.reportValidity()) return;
  const ids = [...state.selected.keys()];
  if (!ids.length) throw new Error("Tick “example” on the products to remove the tag from.");
  const [attribute, value] = [$("tag-attribute").value.trim(), $("tag-value").value.trim()];
  const body = await post("/tag/remove", { attribute, value, ids });
  state.selected.clear();
  renderExamples();
  await refreshSearch();
  showMessage(`Removed ${attribute} = ${value} from ${body.removed} of ${ids.length} products (field ${body.field}).`);
}

// ---- clusters -------------------------------------------------------------------------------

async function loadClusters() {
  const { clusters } = await api("/clusters");
  if (clusters.length) renderClusters(clusters);
  else $("clusters-note").textContent = "The catalog is not clustered yet: choose a number of clusters.";
}

async function makeClusters() {
  $("clusters-note").textContent = "Clustering…";
  try {
    renderClusters((await post("/clusters", { k: numberOrNull($("cluster-k")) })).clusters);
    if (state.mode === "cluster") await search(); // the old cluster's gallery no longer exists
  } catch (error) {
    $("clusters-note").textContent = "";
    throw error;
  }
}

function renderClusters(clusters) {
  const total = clusters.reduce((sum, cluster) => sum + cluster.size, 0);
  $("clusters-note").textContent = `${clusters.length} clusters, ${total} products. Click one to see its members.`;
  $("clusters").replaceChildren(...clusters.map(makeCluster));
  state.facetFields.add("cluster_id");
}

function makeCluster(cluster) {
  const rep = cluster.representative;
  const attribute = el("input", { id: uid("cluster-attribute"), required: true, pattern: "[a-z][a-z0-9_]*",
    placeholder: "season", "data-testid": "cluster-attribute" });
  const value = el("input", { id: uid("cluster-value"), required: true, placeholder: "summer",
    "data-testid": "cluster-value" });
  const assign = (event) => {
    event.preventDefault();
    guarded(() => assignToCluster(cluster, attribute.value.trim(), value.value.trim()));
  };
  return el("li", { class: "cluster", "data-testid": "cluster", "data-cluster-id": String(cluster.id) },
    el("button", { type: "button", class: "card-open", "data-testid": "cluster-open",
      "aria-label": `Show the ${cluster.size} products of cluster ${cluster.id}`,
      onclick: () => guarded(() => showCluster(cluster)) },
    el("img", { src: rep?.image, alt: `Representative of cluster ${cluster.id}: ${titleOf(rep)}` })),
    el("p", {}, `Cluster ${cluster.id} · `,
      el("span", { "data-testid": "cluster-size", text: String(cluster.size) }), " products"),
    el("p", { class: "hint", text: `Representative: ${titleOf(rep)} (${rep?.id})` }),
    el("form", { class: "cluster-attr", "aria-label": `Assign an attribute to cluster ${cluster.id}`,
      onsubmit: assign },
      el("label", { for: attribute.id, text: "Attribute" }), attribute,
      el("label", { for: value.id, text: "Value" }), value,
      el("button", { type: "submit", "data-testid": "cluster-assign", text: "Assign to cluster" })));
}

/** The members of a cluster, nearest its centroid first, a page at a time; opened afresh, or
 * within the facet values then checked (a facet click inside a cluster stays in it). */
function showCluster(cluster, withinFilters = false) {
  if (!withinFilters) state.filters.clear();
  state.cluster = cluster;
  setQuery(null);
  $("text-input").value = "";
  const query = new URLSearchParams({ k: String(pageSize()) });
  for (const [field, values] of state.filters) for (const value of values) query.append("filters", `${field}=${value}`);
  const pageAt = (start) => () => api(`/clusters/${cluster.id}/members?start=${start}&${query}`);
  const heading = state.filters.size ? `Cluster ${cluster.id}, filtered` : `Cluster ${cluster.id}: its ${cluster.size} products`;
  return loadGallery(pageAt(0), heading, "cluster", pageAt);
}

async function assignToCluster(cluster, attribute, value) {
  const body = await post(`/clusters/${cluster.id}/attribute`, { attribute, value });
  state.facetFields.add(body.field);
  await (state.mode === "cluster" ? showCluster(cluster) : refreshSearch());
  showMessage(`Tagged ${body.tagged} products of cluster ${cluster.id} with ${attribute} = ${value} ` +
    `(field ${body.field}).`);
}

// ---- health and wiring ----------------------------------------------------------------------

async function loadHealth() {
  const health = $("health");
  try {
    const body = await api("/health");
    health.textContent = [body.solr ? "Solr reachable" : "Solr unreachable",
      body.model_loaded ? "model loaded" : "model not loaded yet", `PCA ${body.pca_version ?? "none"}`,
      `${body.documents ?? "?"} products`, `weights ${body.weights}`].join(" · ");
    health.dataset.status = body.status;
  } catch (error) {
    health.textContent = `service unavailable: ${error.message}`;
    health.dataset.status = "down";
  }
}

function wire() {
  const on = (id, event, action) => $(id).addEventListener(event, (ev) => {
    if (event === "submit") ev.preventDefault();
    guarded(() => action(ev));
  });
  on("search-form", "submit", () => search());
  on("tag-form", "submit", previewTag);
  on("cluster-form", "submit", makeClusters);
  on("image-input", "change", (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    setQuery({ kind: "file", file }, URL.createObjectURL(file), `Uploaded: ${file.name}`);
    return search();
  });
  on("clear-image", "click", () => { setQuery(null); return search(); });
  on("browse-button", "click", browse);
  on("clear-facets", "click", () => { state.filters.clear(); return search(); });
  on("clear-examples", "click", () => { state.selected.clear(); renderExamples(); });
  on("tag-confirm", "click", confirmTag);
  on("tag-remove", "click", removeTag);
  on("load-more", "click", loadMore);
  on("nav-back", "click", back);
  on("message-close", "click", () => { $("message").hidden = true; });
  on("tag-cancel", "click", () => { state.review = null; renderReview(); });
}

wire();
loadHealth();
guarded(loadClusters);
guarded(async () => {
  state.labels = await api("/labels");
  await buildSearchOptions();
  await search();
});
