// imgflow web page: cards with live status, the gallery (paged), recipes, reprocess and delete.
// Uploading is in upload.js. Plain browser JavaScript, no build step.
"use strict";

const POLL_MS = 700;
const PAGE = 100; // the list API's largest page
const FINAL = new Set(["done", "failed", "deleted"]);
// The thumbnail box's width, for browsers without `sizes="auto"` (the grid: one column up to
// ~646 px, two up to ~960 px, then three of at most ~350 px).
const SIZES = "auto, (max-width: 646px) calc(100vw - 2rem), (max-width: 960px) calc(50vw - 1.5rem), 350px";
const FORMAT_RANK = { webp: 0, avif: 1, jpeg: 2, png: 3 };
const cards = new Map(); // image_id (or a temporary key) -> card element
let tempIds = 0;
let recipes = { default: "", items: [] };
let nextCursor = null; // where the next older page starts; null: no older images
let pagesLoaded = 0;
let pendingDelete = null; // the card the confirmation dialog is about

const $ = (sel, root = document) => root.querySelector(sel);

function token() { return localStorage.getItem("imgflow.token") || ""; }

function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

function announce(text) {
  const el = $("#announcer");
  el.textContent = "";
  window.setTimeout(() => { el.textContent = text; }, 50);
}

async function problem(resp) {
  try {
    const body = await resp.json();
    return body.detail || body.title || body.message || `HTTP ${resp.status}`;
  } catch (_) {
    return `HTTP ${resp.status}`;
  }
}

// The server going away shows once, for the page: a notice, a probe with backoff, and the
// gallery refreshed when it is back (cards keep their last state meanwhile).
const OFFLINE_TEXT = "imgflow is not answering; retrying";
let offlineSince = 0;
function markOffline() {
  if (offlineSince) return;
  offlineSince = Date.now();
  $("#offline").hidden = false;
  announce(OFFLINE_TEXT);
  let wait = 1000;
  const probe = async () => {
    try {
      const resp = await fetch("/healthz", { cache: "no-store" });
      if (resp.ok) { markOnline(); loadGallery(); return; }
    } catch (_) { /* still away */ }
    wait = Math.min(wait * 2, 15000);
    setTimeout(probe, wait);
  };
  setTimeout(probe, wait);
}
function markOnline() {
  if (!offlineSince) return;
  offlineSince = 0;
  $("#offline").hidden = true;
  announce("imgflow is answering again");
}
function offlineError() {
  const err = new Error("imgflow is not answering (is the server running?)");
  err.offline = true;
  return err;
}

async function api(path, opts = {}) {
  let resp;
  try {
    resp = await fetch(path, { ...opts, headers: authHeaders(opts.headers || {}) });
  } catch (_) {  // no answer at all: the browser says only "Failed to fetch"
    markOffline();
    throw offlineError();
  }
  markOnline();
  if (resp.status === 401) { $("#token-box").hidden = false; $("#token-box").open = true; }
  if (!resp.ok) {
    const err = new Error(await problem(resp));
    err.status = resp.status;
    throw err;
  }
  return resp.status === 204 ? null : resp.json();
}

// The server signs URLs with its public base URL; a page opened as localhost instead of
// 127.0.0.1 (same port) would otherwise make them cross-origin.
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
function sameServer(url) {
  try {
    const u = new URL(url, window.location.href);
    if (u.origin !== window.location.origin && u.port === window.location.port
        && LOOPBACK.has(u.hostname) && LOOPBACK.has(window.location.hostname)) {
      return u.pathname + u.search;
    }
  } catch (_) { /* not a URL: leave it */ }
  return url;
}

function humanBytes(n) {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;  // the CLI's units: powers of 1,024
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// ---- cards ---------------------------------------------------------------

function newCard(key, name, { older = false } = {}) {
  const node = $("#card-template").content.firstElementChild.cloneNode(true);
  node.dataset.key = key;
  $(".name", node).textContent = name || "(unnamed)";
  $(".delete", node).addEventListener("click", () => askDelete(node));
  $(".reprocess", node).addEventListener("click", () => reprocessImage(node));
  $(".dismiss", node).addEventListener("click", () => dismiss(node));
  $(".recipe-choice", node).addEventListener("change", (ev) => { ev.target.dataset.chosen = ev.target.value; });
  $(".meta-form", node).addEventListener("submit", (ev) => { ev.preventDefault(); saveMeta(node); });
  if (older) $("#gallery").append(node); else $("#gallery").prepend(node);
  $("#empty").hidden = true;
  cards.set(key, node);
  fillRecipeChoice(node);
  return node;
}

function forget(node) {
  // keep the keyboard where it was: the next card, else the previous one, else the page's controls
  const next = node.nextElementSibling || node.previousElementSibling;
  const hadFocus = node.contains(document.activeElement);
  node.remove();
  cards.delete(node.dataset.key);
  $("#empty").hidden = cards.size > 0;
  if (hadFocus) {
    const target = next && next.querySelector(".actions button:not([hidden]):not(:disabled)");
    (target || $("#refresh")).focus();
  }
}

function rekey(node, imageId) {
  // a gallery listing that answered while this upload was under way may have shown the same
  // image already: one card per image, the upload's (it carries the progress and the focus)
  const other = cards.get(imageId);
  if (other && other !== node) other.remove();
  cards.delete(node.dataset.key);
  node.dataset.key = imageId;
  node.dataset.imageId = imageId;
  cards.set(imageId, node);
}

function setStatus(node, status, text) {
  node.dataset.status = status;
  const glyph = $(".thumb .placeholder", node);
  if (glyph) glyph.textContent = status === "error" || status === "failed" ? "✕" : "…";
  $(".badge", node).textContent = text || status.replace("_", " ");
  const busy = !FINAL.has(status) && status !== "error";
  const refused = status === "error" && !node.dataset.imageId; // the server kept nothing
  $(".reprocess", node).disabled = busy || !node.dataset.imageId;
  $(".delete", node).disabled = !node.dataset.imageId;
  $(".reprocess", node).hidden = refused;
  $(".delete", node).hidden = refused;
  $(".dismiss", node).hidden = !refused;
  fillRecipeChoice(node);
}

function setProgress(node, fraction) {
  const bar = $(".progress", node);
  if (fraction == null) { bar.hidden = true; return; }
  bar.hidden = false;
  bar.value = Math.round(fraction * 100);
  node.dataset.uploaded = String(bar.value);
}

function setError(node, text, detail) {
  const el = $(".error", node);
  el.hidden = !text;
  el.textContent = text || "";
  if (detail && detail !== text) el.title = detail; else el.removeAttribute("title");
}

// A failed image's reason as a sentence: the decoder's own words (the trailing "(VipsJpeg: ...)")
// stay in the record's error.message, shown on hover, not in the card's text.
function errorSentence(error) {
  let text = String(error.message || "").trim().replace(/\s*\([^()]*(\([^()]*\)[^()]*)*\)\.?$/, "");
  if (!text) text = `processing failed (${error.code})`;
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

// The renditions that show the whole image (crops left out), one per width, the lightest format
// first: the candidates of the thumbnail's srcset, narrowest first.
function imageSet(rec) {
  const facts = rec.facts || {};
  const w = facts.oriented_width ?? facts.width;
  const h = facts.oriented_height ?? facts.height;
  const byWidth = new Map();
  for (const r of rec.renditions || []) {
    if (w && h && Math.abs(r.height - (r.width * h) / w) > 1.5) continue;
    const have = byWidth.get(r.width);
    const rank = (x) => FORMAT_RANK[x.format] ?? 9;
    if (!have || rank(r) < rank(have)) byWidth.set(r.width, r);
  }
  const set = [...byWidth.values()].sort((a, b) => a.width - b.width);
  if (set.length || !(rec.renditions || []).length) return set;
  return [[...rec.renditions].sort((a, b) => a.width - b.width)[0]];
}

// The record's srcset of signed on-demand /t/ URLs (every width the layout may need, AVIF/WebP
// chosen by the server from Accept) when the server makes them; else the fixed renditions.
function candidates(rec, set) {
  if (rec.srcset) {
    return rec.srcset.split(", ").map((part) => {
      const [url, width] = part.trim().split(" ");
      return { url: sameServer(url), width: parseInt(width, 10) };
    });
  }
  return set.map((r) => ({ url: sameServer(r.url), width: r.width }));
}

function showThumb(box, rec, name) {
  const set = imageSet(rec);
  if (!set.length) {
    box.replaceChildren(Object.assign(document.createElement("span"), {
      className: "placeholder", textContent: rec.status === "failed" ? "✕" : "…",
    }));
    box.setAttribute("aria-hidden", "true");
    return;
  }
  box.removeAttribute("aria-hidden");
  let img = $("img", box);
  if (!img) {
    img = document.createElement("img");
    img.loading = "lazy"; // before sizes: `sizes="auto"` needs it
    img.decoding = "async";
    img.sizes = SIZES;
    box.replaceChildren(img);
  }
  img.alt = rec.alt || `Thumbnail of ${name}`;
  const facts = rec.facts || {};
  const w = facts.oriented_width ?? facts.width;
  const h = facts.oriented_height ?? facts.height;
  // an image smaller than the box is shown at its own size, not stretched and blurred
  const small = Boolean(w && h && w <= 240 && h <= 180);
  img.classList.toggle("natural", small);
  img.style.width = small ? `${w}px` : "";
  img.style.height = small ? `${h}px` : "";
  const list = candidates(rec, set);
  const srcset = list.map((c) => `${c.url} ${c.width}w`).join(", ");
  if (img.getAttribute("srcset") !== srcset) {
    img.srcset = srcset;
    // browsers without srcset: the narrowest that fills a card
    img.src = (list.find((c) => c.width >= 350) || list[list.length - 1]).url;
  }
}

function render(node, rec) {
  const name = rec.filename || rec.image_id;
  $(".name", node).textContent = name;
  const previous = node.dataset.status;
  if (node.dataset.recipe !== rec.recipe) {
    node.dataset.recipe = rec.recipe;
    $(".recipe-choice", node).dataset.chosen = "";
  }
  setStatus(node, rec.status);
  setProgress(node, null);
  const facts = rec.facts;
  const size = facts
    ? `${facts.oriented_width ?? facts.width}×${facts.oriented_height ?? facts.height} · ${humanBytes(facts.bytes)}`
    : (rec.size ? humanBytes(rec.size) : "");
  $(".dims", node).textContent = recipes.items.length > 1 ? `${size} · recipe ${rec.recipe}` : size;
  const failed = rec.status === "failed" && rec.error;
  setError(node, failed ? errorSentence(rec.error) : "", failed ? `${rec.error.code}: ${rec.error.message}` : "");
  node.dataset.errorCode = failed ? rec.error.code : "";

  const list = $(".renditions", node);
  list.replaceChildren();
  const renditions = rec.renditions || [];
  for (const r of renditions) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = sameServer(r.url);
    const file = `${r.name}.${r.format === "jpeg" ? "jpg" : r.format}`;
    a.textContent = file;
    // saved as photo-large.jpg, not large.jpg for every image
    const stem = (rec.filename || rec.image_id).replace(/\.[^.]*$/, "");
    a.setAttribute("download", `${stem}-${file}`);
    a.setAttribute("aria-label", `Download ${r.name} ${r.format} rendition of ${name}`);
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${r.width}×${r.height} ${r.format} · ${humanBytes(r.bytes)}`;
    li.append(a, meta);
    list.append(li);
  }
  // the downloads sit behind one summary: a card is a few Tab stops, not one per rendition
  const downloads = $(".downloads", node);
  downloads.hidden = !renditions.length;
  $(".downloads summary", node).textContent = `Downloads (${renditions.length})`;
  showMeta(node, rec);
  showThumb($(".thumb", node), rec, name);
  if (previous !== rec.status && FINAL.has(rec.status)) {
    announce(`${name}: ${rec.status}${rec.error ? ` (${errorSentence(rec.error)})` : ""}`);
  }
}

// The user's own fields: tags as chips (each filters the gallery by itself) and the alt text,
// edited in the card's form (a merge patch, conditional on the version the card shows).
function showMeta(node, rec) {
  node.dataset.version = String(rec.version ?? "");
  const chips = $(".tags", node);
  chips.replaceChildren(...(rec.tags || []).map((tag) => {
    const li = document.createElement("li");
    const b = Object.assign(document.createElement("button"), { type: "button", textContent: tag });
    b.setAttribute("aria-label", `Show only images tagged ${tag}`);
    b.addEventListener("click", () => filterByTag(tag));
    li.append(b);
    return li;
  }));
  chips.hidden = !(rec.tags || []).length;
  const alt = $(".alt", node);
  alt.textContent = rec.alt ? `Alt text: ${rec.alt}` : "";
  alt.hidden = !rec.alt;
  const form = $(".meta-form", node);
  if (!form.contains(document.activeElement)) {  // never overwrite what the user is typing
    $(".tags-input", node).value = (rec.tags || []).join(", ");
    $(".alt-input", node).value = rec.alt || "";
  }
}

async function saveMeta(node) {
  const id = node.dataset.imageId;
  if (!id) return;
  const status = $(".meta-status", node);
  const tags = $(".tags-input", node).value.split(",").map((t) => t.trim()).filter(Boolean);
  const altText = $(".alt-input", node).value.trim();
  status.textContent = "Saving…";
  try {
    const rec = await api(`/v1/images/${encodeURIComponent(id)}`, {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json", "if-match": `"${node.dataset.version}"` },
      body: JSON.stringify({ tags, alt: altText || null }),
    });
    render(node, rec);
    status.textContent = "Saved.";
  } catch (err) {
    if (err.status === 412) {  // changed elsewhere since this card was drawn: show that, keep nothing stale
      try { render(node, await api(`/v1/images/${encodeURIComponent(id)}`)); } catch (_) { /* next poll */ }
      status.textContent = "This image changed meanwhile; here it is as it is now. Save again to apply yours.";
    } else {
      status.textContent = `Not saved: ${err.message}`;
    }
  }
}

let tagFilter = "";
function filterByTag(tag) {
  tagFilter = tag.trim();
  $("#tag-filter-input").value = tagFilter;
  $("#tag-filter-clear").hidden = !tagFilter;
  for (const node of [...cards.values()]) { node.remove(); }
  cards.clear();
  nextCursor = null;
  pagesLoaded = 0;
  announce(tagFilter ? `Showing images tagged ${tagFilter}` : "Showing all images");
  loadGallery();
}

function listQuery() {
  return tagFilter ? `&tag=${encodeURIComponent(tagFilter)}` : "";
}

async function poll(node) {
  const id = node.dataset.imageId;
  if (!id || node.dataset.polling === "1") return;
  node.dataset.polling = "1";
  try {
    for (;;) {
      if (!node.isConnected) return;
      let rec;
      try {
        rec = await api(`/v1/images/${encodeURIComponent(id)}`);
      } catch (err) {
        if (err.status === 404) { forget(node); return; }
        await new Promise((r) => setTimeout(r, POLL_MS * 3));
        continue;
      }
      render(node, rec);
      if (FINAL.has(rec.status)) return;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    node.dataset.polling = "";
  }
}

// ---- actions -----------------------------------------------------------------

function askDelete(node) {
  if (!node.dataset.imageId) return;
  const dialog = $("#confirm-delete");
  pendingDelete = node;
  $("#confirm-text").textContent = `${$(".name", node).textContent}: the original and every rendition `
    + "are removed and their links stop working. This cannot be undone.";
  dialog.returnValue = "";
  dialog.showModal();
}

function confirmClosed() {
  const node = pendingDelete;
  pendingDelete = null;
  if (node && $("#confirm-delete").returnValue === "delete") removeImage(node);
}

async function removeImage(node) {
  const id = node.dataset.imageId;
  const name = $(".name", node).textContent;
  try {
    await api(`/v1/images/${encodeURIComponent(id)}`, { method: "DELETE" });
    forget(node);
    announce(`${name} deleted`);
  } catch (err) {
    setError(node, `delete failed: ${err.message}`);
  }
}

function dismiss(node) {
  const name = $(".name", node).textContent;
  forget(node);
  announce(`${name} dismissed`);
}

async function reprocessImage(node) {
  const id = node.dataset.imageId;
  const choice = $(".recipe-choice", node);
  const body = choice.hidden || !choice.value ? {} : { recipe: choice.value };
  try {
    const rec = await api(`/v1/images/${encodeURIComponent(id)}/reprocess`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    render(node, rec);
    poll(node);
  } catch (err) {
    setError(node, `reprocess failed: ${err.message}`);
  }
}

// ---- recipes ---------------------------------------------------------------------

function describeRecipe(name) {
  const recipe = recipes.items.find((r) => r.name === name);
  if (!recipe) return "";
  const byName = new Map();
  for (const r of recipe.renditions) {
    const box = `${r.width ?? "any"}×${r.height ?? "any"}${r.fit === "contain" ? "" : ` ${r.fit}`}`;
    const seen = byName.get(r.name) || { box, formats: [] };
    seen.formats.push(r.format);
    byName.set(r.name, seen);
  }
  return `Makes ${[...byName].map(([n, v]) => `${n} ${v.box} (${v.formats.join(", ")})`).join("; ")}.`;
}

function recipeOptions(selected) {
  return recipes.items.map((r) => new Option(r.name, r.name, false, r.name === selected));
}

// A card's recipe choice for Reprocess: the image's own recipe until the user picks another.
function fillRecipeChoice(node) {
  const select = $(".recipe-choice", node);
  const wanted = select.dataset.chosen || node.dataset.recipe || recipes.default;
  if (select.options.length !== recipes.items.length) select.replaceChildren(...recipeOptions(wanted));
  select.value = wanted;
  select.hidden = recipes.items.length < 2 || !node.dataset.imageId;
  select.setAttribute("aria-label", `Recipe for reprocessing ${$(".name", node).textContent}`);
}

async function loadRecipes() {
  try {
    const body = await api("/v1/recipes");
    recipes = { default: body.default, items: body.items || [] };
    // answered without a token: this server needs none, so the token panel stays out of the way
    if (!token()) $("#token-box").hidden = true;
  } catch (err) {
    return; // uploads still work with the server's default recipe
  }
  const select = $("#recipe-select");
  select.replaceChildren(...recipeOptions(select.value || recipes.default));
  $("#recipe-field").hidden = recipes.items.length < 2;
  $("#recipe-hint").textContent = describeRecipe(select.value);
  for (const node of cards.values()) fillRecipeChoice(node);
}

// ---- the gallery ---------------------------------------------------------------------

function show(rec, options) {
  let node = cards.get(rec.image_id);
  if (!node) {
    node = newCard(rec.image_id, rec.filename, options);
    node.dataset.imageId = rec.image_id;
  }
  render(node, rec);
  if (!FINAL.has(rec.status)) poll(node);
  return node;
}

function showMore() {
  $("#more").hidden = !nextCursor;
  $("#empty").hidden = cards.size > 0;
}

async function loadGallery() {
  let page;
  try {
    page = await api(`/v1/images?limit=${PAGE}${listQuery()}`);
  } catch (err) {
    announce(`Could not list images: ${err.message}`);
    return;
  }
  for (const rec of [...(page.items || [])].reverse()) show(rec);
  if (pagesLoaded <= 1) { nextCursor = page.cursor || null; pagesLoaded = 1; }
  showMore();
}

async function loadOlder() {
  if (!nextCursor) return;
  const button = $("#more");
  button.disabled = true;
  try {
    const page = await api(`/v1/images?limit=${PAGE}${listQuery()}&cursor=${encodeURIComponent(nextCursor)}`);
    const items = page.items || [];
    const added = items.filter((rec) => !cards.has(rec.image_id)).map((rec) => show(rec, { older: true }));
    nextCursor = page.cursor || null;
    pagesLoaded += 1;
    announce(`${added.length} older image${added.length === 1 ? "" : "s"} shown`);
    if (!nextCursor && added.length) $("button:not([hidden]):not(:disabled)", added[0])?.focus();
  } catch (err) {
    announce(`Could not list images: ${err.message}`);
  } finally {
    button.disabled = false;
    showMore();
  }
}

function init() {
  const zone = $("#dropzone");
  const input = $("#file-input");
  input.addEventListener("change", () => { uploadAll(input.files); input.value = ""; });
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (ev) => { ev.preventDefault(); zone.classList.add("dragover"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, (ev) => { ev.preventDefault(); zone.classList.remove("dragover"); });
  }
  zone.addEventListener("drop", (ev) => uploadAll(ev.dataTransfer.files));
  // a drop that misses the zone must not navigate away from the page
  window.addEventListener("dragover", (ev) => ev.preventDefault());
  window.addEventListener("drop", (ev) => ev.preventDefault());
  $("#refresh").addEventListener("click", loadGallery);
  $("#tag-filter").addEventListener("submit", (ev) => { ev.preventDefault(); filterByTag($("#tag-filter-input").value); });
  $("#tag-filter-clear").addEventListener("click", () => filterByTag(""));
  $("#more").addEventListener("click", loadOlder);
  $("#confirm-delete").addEventListener("close", confirmClosed);
  $("#recipe-select").addEventListener("change", (ev) => {
    $("#recipe-hint").textContent = describeRecipe(ev.target.value);
  });
  $("#token-input").value = token();
  $("#token-save").addEventListener("click", () => {
    localStorage.setItem("imgflow.token", $("#token-input").value.trim());
    announce("Token saved");
    loadRecipes().then(loadGallery);
  });
  loadRecipes().then(loadGallery);
}

document.addEventListener("DOMContentLoaded", init);
