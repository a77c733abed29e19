// imgflow web page: upload (presigned form POST, direct POST fallback), live status, gallery.
// Plain browser JavaScript, no build step.
"use strict";

const DIRECT_MAX = 4 * 1024 * 1024;
const POLL_MS = 700;
const FINAL = new Set(["done", "failed", "deleted"]);
const cards = new Map(); // image_id (or a temporary key) -> card element
let tempIds = 0;

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

async function api(path, opts = {}) {
  const resp = await fetch(path, { ...opts, headers: authHeaders(opts.headers || {}) });
  if (resp.status === 401) { $("#token-box").open = true; }
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
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---- cards ---------------------------------------------------------------

function newCard(key, name) {
  const node = $("#card-template").content.firstElementChild.cloneNode(true);
  node.dataset.key = key;
  $(".name", node).textContent = name || "(unnamed)";
  $(".delete", node).addEventListener("click", () => removeImage(node));
  $(".reprocess", node).addEventListener("click", () => reprocessImage(node));
  $("#gallery").prepend(node);
  $("#empty").hidden = true;
  cards.set(key, node);
  return node;
}

function rekey(node, imageId) {
  cards.delete(node.dataset.key);
  node.dataset.key = imageId;
  node.dataset.imageId = imageId;
  cards.set(imageId, node);
}

function setStatus(node, status, text) {
  node.dataset.status = status;
  $(".badge", node).textContent = text || status.replace("_", " ");
  const busy = !FINAL.has(status) && status !== "error";
  $(".reprocess", node).disabled = busy || !node.dataset.imageId;
  $(".delete", node).disabled = !node.dataset.imageId;
}

function setProgress(node, fraction) {
  const bar = $(".progress", node);
  if (fraction == null) { bar.hidden = true; return; }
  bar.hidden = false;
  bar.value = Math.round(fraction * 100);
  node.dataset.uploaded = String(bar.value);
}

function setError(node, text) {
  const el = $(".error", node);
  el.hidden = !text;
  el.textContent = text || "";
}

function pickThumb(renditions) {
  if (!renditions.length) return null;
  const named = renditions.find((r) => r.name === "thumb" || r.name === "thumbnail");
  if (named) return named;
  return [...renditions].sort((a, b) => a.width * a.height - b.width * b.height)[0];
}

function render(node, rec) {
  const name = rec.filename || rec.image_id;
  $(".name", node).textContent = name;
  const previous = node.dataset.status;
  setStatus(node, rec.status);
  setProgress(node, null);
  const facts = rec.facts;
  $(".dims", node).textContent = facts
    ? `${facts.oriented_width ?? facts.width}×${facts.oriented_height ?? facts.height} · ${humanBytes(facts.bytes)}`
    : (rec.size ? humanBytes(rec.size) : "");
  setError(node, rec.status === "failed" && rec.error ? `${rec.error.code}: ${rec.error.message}` : "");

  const list = $(".renditions", node);
  list.replaceChildren();
  const renditions = rec.renditions || [];
  for (const r of renditions) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = sameServer(r.url);
    const file = `${r.name}.${r.format === "jpeg" ? "jpg" : r.format}`;
    a.textContent = file;
    a.setAttribute("download", file);
    a.setAttribute("aria-label", `Download ${r.name} ${r.format} rendition of ${name}`);
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${r.width}×${r.height} ${r.format} · ${humanBytes(r.bytes)}`;
    li.append(a, meta);
    list.append(li);
  }
  const thumbBox = $(".thumb", node);
  const thumb = pickThumb(renditions);
  if (thumb) {
    let img = $("img", thumbBox);
    if (!img) { img = document.createElement("img"); thumbBox.replaceChildren(img); }
    img.alt = `Thumbnail of ${name}`;
    const src = sameServer(thumb.url);
    if (img.getAttribute("src") !== src) img.src = src;
  } else {
    thumbBox.replaceChildren(Object.assign(document.createElement("span"), {
      className: "placeholder", textContent: rec.status === "failed" ? "✕" : "…",
    }));
  }
  if (previous !== rec.status && FINAL.has(rec.status)) {
    announce(`${name}: ${rec.status}${rec.error ? ` (${rec.error.message})` : ""}`);
  }
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
        if (err.status === 404) { node.remove(); cards.delete(id); return; }
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

// ---- uploading -------------------------------------------------------------

function xhrSend(method, url, body, headers, node) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener("progress", (ev) => {
      node.dataset.progressEvents = String(Number(node.dataset.progressEvents || 0) + 1);
      if (ev.lengthComputable) setProgress(node, ev.loaded / ev.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        let parsed = null;
        try { parsed = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (_) { parsed = null; }
        resolve(parsed);
      } else {
        let reason = `HTTP ${xhr.status}`;
        try {
          const b = JSON.parse(xhr.responseText);
          reason = b.detail || b.title || b.message || reason;
        } catch (_) { /* not JSON */ }
        const err = new Error(reason);
        err.status = xhr.status;
        reject(err);
      }
    });
    xhr.addEventListener("error", () => reject(new Error("network error")));
    xhr.send(body);
  });
}

async function uploadPresigned(file, node) {
  const created = await api("/v1/uploads", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ filename: file.name, content_type: file.type || "application/octet-stream", size: file.size }),
  });
  const rec = created.image || created.record || created;
  const upload = created.upload || created.presigned || created;
  rekey(node, rec.image_id);
  setStatus(node, "uploading");
  const form = new FormData();
  for (const [k, v] of Object.entries(upload.fields || {})) form.append(k, v);
  form.append(upload.file_field || "file", file, file.name);
  await xhrSend(upload.method || "POST", sameServer(upload.url), form, {}, node);
}

async function uploadDirect(file, node) {
  const headers = authHeaders({ "Content-Type": file.type || "application/octet-stream" });
  const query = file.name ? `?filename=${encodeURIComponent(file.name)}` : "";
  const rec = await xhrSend("POST", `/v1/images${query}`, file, headers, node);
  rekey(node, rec.image_id);
}

async function uploadOne(file) {
  const node = newCard(`tmp-${++tempIds}`, file.name);
  setStatus(node, "uploading");
  setProgress(node, 0);
  try {
    try {
      await uploadPresigned(file, node);
    } catch (err) {
      // the presigned path is the default; a server without it, or a file whose type the browser
      // could not tell (the direct path sniffs the bytes), still goes directly when small
      const retry = err.status === 404 || err.status === 405 || (err.status === 415 && !file.type);
      if (node.dataset.imageId || !retry || file.size > DIRECT_MAX) throw err;
      await uploadDirect(file, node);
    }
    setProgress(node, 1);
    setStatus(node, "queued");
    poll(node);
  } catch (err) {
    setProgress(node, null);
    setStatus(node, "error", "upload failed");
    setError(node, err.message);
    announce(`${file.name}: upload failed (${err.message})`);
    if (node.dataset.imageId) poll(node);
  }
}

function uploadAll(files) {
  const list = [...files];
  if (!list.length) return;
  announce(`Uploading ${list.length} file${list.length > 1 ? "s" : ""}`);
  // a few at a time: the browser and the server stay responsive with hundreds of files
  const queue = list.slice();
  const lanes = Math.min(4, queue.length);
  for (let i = 0; i < lanes; i++) {
    (async () => { while (queue.length) await uploadOne(queue.shift()); })();
  }
}

// ---- actions -----------------------------------------------------------------

async function removeImage(node) {
  const id = node.dataset.imageId;
  const name = $(".name", node).textContent;
  if (!id) { node.remove(); return; }
  try {
    await api(`/v1/images/${encodeURIComponent(id)}`, { method: "DELETE" });
    node.remove();
    cards.delete(id);
    $("#empty").hidden = cards.size > 0;
    announce(`${name} deleted`);
    $("#refresh").focus();
  } catch (err) {
    setError(node, `delete failed: ${err.message}`);
  }
}

async function reprocessImage(node) {
  const id = node.dataset.imageId;
  try {
    const rec = await api(`/v1/images/${encodeURIComponent(id)}/reprocess`, { method: "POST" });
    render(node, rec);
    poll(node);
  } catch (err) {
    setError(node, `reprocess failed: ${err.message}`);
  }
}

async function loadGallery() {
  let page;
  try {
    page = await api("/v1/images?limit=100");
  } catch (err) {
    announce(`Could not list images: ${err.message}`);
    return;
  }
  const items = page.items || page.images || [];
  for (const rec of [...items].reverse()) {
    let node = cards.get(rec.image_id);
    if (!node) {
      node = newCard(rec.image_id, rec.filename);
      node.dataset.imageId = rec.image_id;
    }
    render(node, rec);
    if (!FINAL.has(rec.status)) poll(node);
  }
  $("#empty").hidden = cards.size > 0;
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
  $("#token-input").value = token();
  $("#token-save").addEventListener("click", () => {
    localStorage.setItem("imgflow.token", $("#token-input").value.trim());
    announce("Token saved");
    loadGallery();
  });
  loadGallery();
}

document.addEventListener("DOMContentLoaded", init);
