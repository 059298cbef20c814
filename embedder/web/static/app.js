// Lookalike's page: search by image + keywords + facets, navigate by lookalikes, tag an attribute
// from examples, browse clusters. Plain ES module, no dependencies; talks to the sidecar's JSON API.

const DEFAULT_FACETS = ["category", "color", "brand"];
const FACET_LABELS = { category: "Category", color: "Colour", brand: "Brand", cluster_id: "Cluster" };

const state = {
  query: null, // {kind: "file", file} | {kind: "id", id, title}: the query image
  filters: new Map(), // facet field -> Set of checked values
  facetFields: new Set(DEFAULT_FACETS),
  selected: new Map(), // example id -> result
  rejected: new Set(), // ids marked "not like this" for the next navigation step
  nav: null, // {session, step} while navigating by lookalikes
  review: null, // {attribute, value, field, candidates} awaiting confirmation
  ticket: 0, // only the latest gallery request renders
  generation: 0,
};

const $ = (id) => document.getElementById(id);

// ---- helpers --------------------------------------------------------------------------------

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

/** Calls the API; resolves to the JSON body, or throws an Error carrying the API's message. */
async function api(path, { method = "GET", json, form } = {}) {
  const init = { method, headers: { Accept: "application/json" } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await fetch(path, init);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(body?.error || `${method} ${path} failed: HTTP ${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function showMessage(text, kind = "info") {
  const box = $("message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.hidden = false;
}

function clearMessage() {
  $("message").hidden = true;
  $("message").textContent = "";
}

/** Runs an action, showing its error (the API's message) in the message area. */
async function guarded(action) {
  try {
    await action();
  } catch (error) {
    showMessage(error.message, "error");
  }
}

function quote(value) {
  return `"${String(value).replace(/[\\"]/g, "\\$&")}"`;
}

function formatDistance(distance) {
  return typeof distance === "number" ? `distance ${distance.toPrecision(4)}` : "distance –";
}

function numberOrNull(input) {
  return input.value.trim() === "" ? null : Number(input.value);
}

function facetLabel(field) {
  return FACET_LABELS[field] ?? field.replace(/^attr_/, "");
}

/** Solr filter queries of the checked facet values: OR within a field, AND across fields. */
function filterQueries() {
  const fq = [];
  for (const [field, values] of state.filters) {
    const quoted = [...values].map(quote);
    if (quoted.length === 1) fq.push(`${field}:${quoted[0]}`);
    else if (quoted.length > 1) fq.push(`${field}:(${quoted.join(" OR ")})`);
  }
  return fq;
}

// ---- the gallery ----------------------------------------------------------------------------

/** Fetches a gallery; renders it unless a later request was made meanwhile. */
async function loadGallery(request, heading, mode) {
  const ticket = ++state.ticket;
  const gallery = $("gallery");
  gallery.dataset.state = "loading";
  gallery.setAttribute("aria-busy", "true");
  try {
    const body = await request();
    if (ticket !== state.ticket) return null;
    clearMessage();
    renderGallery(body.results ?? body.gallery ?? [], typeof heading === "function" ? heading(body) : heading, mode);
    if (body.facets) renderFacets(body.facets);
    return body;
  } catch (error) {
    if (ticket === state.ticket) showMessage(error.message, "error");
    return null;
  } finally {
    if (ticket === state.ticket) {
      gallery.dataset.state = "ready";
      gallery.removeAttribute("aria-busy");
    }
  }
}

function renderGallery(results, heading, mode) {
  const gallery = $("gallery");
  gallery.dataset.mode = mode;
  $("gallery-heading").textContent = heading;
  gallery.replaceChildren(...results.map(makeCard));
  if (!results.length) gallery.append(el("li", { class: "empty", text: "No products." }));
  for (const result of results) {
    for (const name of Object.keys(result.fields ?? {})) if (name.startsWith("attr_")) state.facetFields.add(name);
  }
  gallery.dataset.generation = String(++state.generation);
}

function makeCard(result) {
  const card = $("card-template").content.firstElementChild.cloneNode(true);
  const fields = result.fields ?? {};
  const title = fields.title ?? result.id;
  card.dataset.id = result.id;
  const open = card.querySelector(".card-open");
  open.setAttribute("aria-label", `Show lookalikes of ${title} (${result.id})`);
  open.addEventListener("click", () => navigateTo(result));
  const image = card.querySelector("img");
  image.src = result.image ?? `/products/${encodeURIComponent(result.id)}/image`;
  image.alt = title;
  image.addEventListener("error", () => card.classList.add("no-image"), { once: true });
  card.querySelector(".card-title").textContent = title;
  card.querySelector("code").textContent = result.id;
  card.querySelector(".distance").textContent = formatDistance(result.distance);
  card.querySelector(".card-facets").textContent = describe(fields);
  const pick = card.querySelector("[data-testid=result-select]");
  pick.checked = state.selected.has(result.id);
  pick.setAttribute("aria-label", `Use ${title} (${result.id}) as an example`);
  pick.addEventListener("change", () => toggleExample(result, pick.checked));
  const asQuery = card.querySelector("[data-testid=result-query]");
  asQuery.setAttribute("aria-label", `Search with the image of ${title} (${result.id})`);
  asQuery.addEventListener("click", () => useAsQuery(result));
  const reject = card.querySelector("[data-testid=result-reject]");
  reject.hidden = false;
  reject.setAttribute("aria-label", `Not like ${title} (${result.id})`);
  reject.addEventListener("click", () => toggleReject(result.id, card, reject));
  return card;
}

function describe(fields) {
  const parts = [fields.category, fields.color, fields.brand];
  for (const [name, value] of Object.entries(fields)) {
    if (name.startsWith("attr_")) parts.push(`${name.slice(5)}: ${[].concat(value).join(", ")}`);
  }
  if (fields.cluster_id !== undefined) parts.push(`cluster ${fields.cluster_id}`);
  return parts.filter((part) => part !== undefined && part !== null).join(" · ");
}

// ---- search and facets ----------------------------------------------------------------------

function search() {
  state.nav = null;
  state.rejected.clear();
  const text = $("text-input").value.trim();
  const k = numberOrNull($("k-input")) ?? 24;
  const maxDist = numberOrNull($("max-dist-input"));
  const hybrid = $("hybrid-input").checked;
  const fq = filterQueries();
  const facets = [...state.facetFields];
  let request;
  if (state.query?.kind === "file") {
    const form = new FormData();
    form.append("image", state.query.file, state.query.file.name);
    if (text) form.append("text", text);
    fq.forEach((filter) => form.append("fq", filter));
    facets.forEach((field) => form.append("facets", field));
    form.append("k", String(k));
    if (maxDist !== null) form.append("max_dist", String(maxDist));
    form.append("hybrid", String(hybrid));
    request = () => api("/search", { method: "POST", form });
  } else {
    const json = { text, fq, k, hybrid, facets, max_dist: maxDist };
    if (state.query?.kind === "id") json.id = state.query.id;
    request = () => api("/search", { method: "POST", json });
  }
  const subject = state.query ? "Lookalikes of the query image" : text ? "Keyword search" : "All products";
  return loadGallery(request, `${subject}${text ? ` · “${text}”` : ""}`, "search");
}

function renderFacets(facets) {
  const container = $("facets");
  const groups = [];
  for (const field of new Set([...Object.keys(facets), ...state.filters.keys()])) {
    const counts = { ...(facets[field] ?? {}) };
    for (const value of state.filters.get(field) ?? []) counts[value] ??= 0;
    const values = Object.entries(counts).filter(([value, count]) => count > 0 || isChecked(field, value));
    if (!values.length) continue;
    groups.push(el("fieldset", { class: "facet", "data-testid": `facet-group-${field}` },
      el("legend", { text: facetLabel(field) }),
      ...values.map(([value, count]) => facetOption(field, value, count))));
  }
  container.replaceChildren(...groups);
}

function isChecked(field, value) {
  return state.filters.get(field)?.has(value) ?? false;
}

function facetOption(field, value, count) {
  const id = `facet-${field}-${value}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const box = el("input", { type: "checkbox", id, "data-testid": `facet-${field}-${value}`,
    checked: isChecked(field, value), onchange: (event) => toggleFilter(field, value, event.target.checked) });
  return el("div", { class: "facet-option" }, box,
    el("label", { for: id }, `${value} `, el("span", { class: "count", text: `(${count})` })));
}

function toggleFilter(field, value, checked) {
  const values = state.filters.get(field) ?? new Set();
  if (checked) values.add(value);
  else values.delete(value);
  if (values.size) state.filters.set(field, values);
  else state.filters.delete(field);
  return search();
}

function setQueryFile(file) {
  if (!file) return;
  state.query = { kind: "file", file };
  showPreview(URL.createObjectURL(file), `Uploaded: ${file.name}`);
  return search();
}

function useAsQuery(result) {
  const title = result.fields?.title ?? result.id;
  state.query = { kind: "id", id: result.id, title };
  $("image-input").value = "";
  showPreview(result.image, `Product ${result.id}: ${title}`);
  return search();
}

function showPreview(src, caption) {
  $("query-preview-img").src = src;
  $("query-preview-caption").textContent = caption;
  $("query-preview").hidden = false;
}

function clearQuery() {
  state.query = null;
  $("image-input").value = "";
  $("query-preview").hidden = true;
  return search();
}

// ---- navigation by lookalikes ---------------------------------------------------------------

/** A step to the clicked product's lookalikes; the session never shows a product twice. */
function navigateTo(result) {
  const title = result.fields?.title ?? result.id;
  const k = numberOrNull($("k-input")) ?? 12;
  const reject = [...state.rejected].filter((id) => id !== result.id);
  return loadGallery(async () => {
    if (!state.nav) {
      // The session starts at the clicked product; size 1 keeps its starting gallery (never
      // shown here, yet counted as seen by the service) from hiding close lookalikes.
      const start = await api("/navigate/start", { method: "POST", json: { size: 1, fq: filterQueries() } });
      state.nav = { session: start.session, step: 0 };
    }
    const body = await api("/navigate/step", {
      method: "POST", json: { session: state.nav.session, choose: result.id, reject, k },
    });
    state.nav = { session: body.session, step: state.nav.step + 1 };
    state.rejected.clear();
    return body;
  }, `Lookalikes of ${title} (${result.id}) · step ${(state.nav?.step ?? 0) + 1}`, "navigate");
}

function browse() {
  state.rejected.clear();
  const size = numberOrNull($("k-input")) ?? 12;
  return loadGallery(async () => {
    const body = await api("/navigate/start", { method: "POST", json: { size, fq: filterQueries() } });
    state.nav = { session: body.session, step: 0 };
    return body;
  }, "Diverse products: click the one closest to what you want", "navigate");
}

function toggleReject(id, card, button) {
  if (state.rejected.has(id)) state.rejected.delete(id);
  else state.rejected.add(id);
  const rejected = state.rejected.has(id);
  card.classList.toggle("rejected", rejected);
  button.setAttribute("aria-pressed", String(rejected));
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
      el("img", { src: result.image, alt: result.fields?.title ?? result.id }),
      el("button", { type: "button", class: "link", text: "remove",
        "aria-label": `Remove example ${result.id}`, onclick: () => unselect(result.id) }))));
}

function clearExamples() {
  state.selected.clear();
  for (const box of document.querySelectorAll("#gallery [data-testid=result-select]")) box.checked = false;
  renderExamples();
}

function unselect(id) {
  state.selected.delete(id);
  for (const box of document.querySelectorAll(`#gallery .card[data-id="${CSS.escape(id)}"] [data-testid=result-select]`)) {
    box.checked = false;
  }
  renderExamples();
}

async function previewTag() {
  const attribute = $("tag-attribute").value.trim();
  const value = $("tag-value").value.trim();
  const body = await api("/tag/preview", { method: "POST", json: {
    attribute, value, example_ids: [...state.selected.keys()], k: numberOrNull($("tag-k")) ?? 20,
    max_dist: numberOrNull($("tag-max-dist")), fq: $("tag-within-filters").checked ? filterQueries() : [],
  } });
  state.review = { attribute, value, field: body.field, candidates: body.candidates };
  renderReview();
  showMessage(`${body.candidates.length} candidates for ${attribute} = ${value}: review them, then confirm.`);
}

function renderReview() {
  const review = state.review;
  $("review").hidden = !review;
  if (!review) return $("review-list").replaceChildren();
  $("review-heading").textContent = `Review: ${review.attribute} = ${review.value} (${review.field})`;
  $("review-list").replaceChildren(...review.candidates.map((candidate) => {
    const id = `review-${candidate.id}`.replace(/[^A-Za-z0-9_-]/g, "_");
    const example = state.selected.has(candidate.id);
    return el("li", { class: "review-item", "data-testid": "candidate", "data-id": candidate.id },
      el("input", { type: "checkbox", id, checked: true, "data-testid": "candidate-keep", onchange: updateConfirm }),
      el("label", { for: id },
        el("img", { src: candidate.image, alt: candidate.fields?.title ?? candidate.id }),
        el("span", { text: `${candidate.fields?.title ?? ""} ` }),
        el("code", { text: candidate.id }),
        el("span", { class: "distance", text: ` ${formatDistance(candidate.distance)}` }),
        example ? el("strong", { class: "badge", text: "example" }) : null));
  }));
  updateConfirm();
}

function reviewedIds() {
  return [...document.querySelectorAll("#review-list [data-testid=candidate]")]
    .filter((item) => item.querySelector("input").checked)
    .map((item) => item.dataset.id);
}

function updateConfirm() {
  const count = reviewedIds().length;
  $("tag-confirm").textContent = `Tag ${count} product${count === 1 ? "" : "s"}`;
  $("tag-confirm").disabled = count === 0;
}

async function confirmTag() {
  const { attribute, value } = state.review;
  const body = await api("/tag/apply", { method: "POST", json: { attribute, value, ids: reviewedIds() } });
  state.facetFields.add(body.field);
  state.review = null;
  renderReview();
  clearExamples();
  showMessage(`Tagged ${body.tagged} products with ${attribute} = ${value} (field ${body.field}).`);
}

// ---- clusters -------------------------------------------------------------------------------

async function loadClusters() {
  try {
    renderClusters((await api("/clusters")).clusters);
  } catch (error) {
    if (error.status !== 404) throw error;
    $("clusters-note").textContent = "The catalog is not clustered yet: choose a number of clusters.";
  }
}

async function makeClusters() {
  $("clusters-note").textContent = "Clustering…";
  const k = numberOrNull($("cluster-k"));
  try {
    renderClusters((await api("/clusters", { method: "POST", json: { k } })).clusters);
  } catch (error) {
    $("clusters-note").textContent = "";
    throw error;
  }
}

function renderClusters(clusters) {
  const total = clusters.reduce((sum, cluster) => sum + cluster.size, 0);
  $("clusters-note").textContent = `${clusters.length} clusters, ${total} products.`;
  $("clusters").replaceChildren(...clusters.map(makeCluster));
  state.facetFields.add("cluster_id");
}

function makeCluster(cluster) {
  const rep = cluster.representative;
  const title = rep?.fields?.title ?? rep?.id ?? "";
  const attribute = el("input", { id: `cluster-${cluster.id}-attribute`, required: true,
    pattern: "[a-z][a-z0-9_]*", "data-testid": "cluster-attribute" });
  const value = el("input", { id: `cluster-${cluster.id}-value`, required: true, "data-testid": "cluster-value" });
  const form = el("form", { class: "cluster-attr", "aria-label": `Assign an attribute to cluster ${cluster.id}`,
    onsubmit: (event) => { event.preventDefault(); guarded(() => assignToCluster(cluster, attribute.value.trim(), value.value.trim())); } },
    el("label", { for: attribute.id, text: "Attribute" }), attribute,
    el("label", { for: value.id, text: "Value" }), value,
    el("button", { type: "submit", "data-testid": "cluster-assign", text: "Assign to cluster" }));
  return el("li", { class: "cluster", "data-testid": "cluster", "data-cluster-id": String(cluster.id) },
    el("button", { type: "button", class: "card-open", "data-testid": "cluster-open",
      "aria-label": `Show the ${cluster.size} products of cluster ${cluster.id}`, onclick: () => showCluster(cluster) },
      el("img", { src: rep?.image, alt: `Representative of cluster ${cluster.id}: ${title}` })),
    el("p", {}, `Cluster ${cluster.id} · `, el("span", { "data-testid": "cluster-size", text: String(cluster.size) }), " products"),
    el("p", { class: "hint", text: `Representative: ${title} (${rep?.id})` }),
    form);
}

function showCluster(cluster) {
  state.filters = new Map([["cluster_id", new Set([String(cluster.id)])]]);
  state.query = null;
  $("image-input").value = "";
  $("query-preview").hidden = true;
  $("text-input").value = "";
  $("k-input").value = String(Math.max(numberOrNull($("k-input")) ?? 24, cluster.size));
  return search();
}

async function assignToCluster(cluster, attribute, value) {
  const body = await api(`/clusters/${cluster.id}/attribute`, { method: "POST", json: { attribute, value } });
  state.facetFields.add(body.field);
  showMessage(`Tagged ${body.tagged} products of cluster ${cluster.id} with ${attribute} = ${value} (field ${body.field}).`);
}

// ---- health and wiring ----------------------------------------------------------------------

async function loadHealth() {
  const health = $("health");
  try {
    const body = await api("/health");
    const parts = [body.solr ? "Solr reachable" : "Solr unreachable", body.model_loaded ? "model loaded" : "model not loaded",
      `PCA ${body.pca_version ?? "none"}`, `${body.documents ?? "?"} products`, `weights ${body.weights}`];
    health.textContent = parts.join(" · ");
    health.dataset.status = body.status;
  } catch (error) {
    health.textContent = `service unavailable: ${error.message}`;
    health.dataset.status = "down";
  }
}

function wire() {
  const submit = (id, action) => $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(action);
  });
  submit("search-form", search);
  submit("tag-form", previewTag);
  submit("cluster-form", makeClusters);
  $("image-input").addEventListener("change", (event) => guarded(() => setQueryFile(event.target.files[0])));
  $("clear-image").addEventListener("click", () => guarded(clearQuery));
  $("browse-button").addEventListener("click", () => guarded(browse));
  $("clear-facets").addEventListener("click", () => { state.filters.clear(); guarded(search); });
  $("clear-examples").addEventListener("click", clearExamples);
  $("tag-confirm").addEventListener("click", () => guarded(confirmTag));
  $("tag-cancel").addEventListener("click", () => { state.review = null; renderReview(); });
}

wire();
loadHealth();
guarded(loadClusters);
guarded(search);
