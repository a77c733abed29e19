// imgflow web page, uploads: presigned form POST with progress, direct POST fallback.
// Loaded with app.js (whose helpers it uses); plain browser JavaScript, no build step.
"use strict";

const DIRECT_MAX = 4 * 1024 * 1024;

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
    xhr.addEventListener("error", () => { markOffline(); reject(offlineError()); });
    xhr.send(body);
  });
}

async function uploadPresigned(file, node, recipe) {
  const request = { filename: file.name, content_type: file.type || "application/octet-stream", size: file.size };
  if (recipe) request.recipe = recipe;
  const created = await api("/v1/uploads", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
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

async function uploadDirect(file, node, recipe) {
  const headers = authHeaders({ "Content-Type": file.type || "application/octet-stream" });
  const params = new URLSearchParams();
  if (file.name) params.set("filename", file.name);
  if (recipe) params.set("recipe", recipe);
  const query = params.size ? `?${params}` : "";
  const rec = await xhrSend("POST", `/v1/images${query}`, file, headers, node);
  rekey(node, rec.image_id);
}

async function uploadOne(file, recipe) {
  const node = newCard(`tmp-${++tempIds}`, file.name);
  setStatus(node, "uploading");
  setProgress(node, 0);
  try {
    try {
      await uploadPresigned(file, node, recipe);
    } catch (err) {
      // the presigned path is the default; a server without it, or a file whose type the browser
      // could not tell (the direct path sniffs the bytes), still goes directly when small
      const retry = err.status === 404 || err.status === 405 || (err.status === 415 && !file.type);
      if (node.dataset.imageId || !retry || file.size > DIRECT_MAX) throw err;
      await uploadDirect(file, node, recipe);
    }
    setProgress(node, 1);
    setStatus(node, "queued");
    poll(node);
  } catch (err) {
    setProgress(node, null);
    const refused = err.status >= 400 && err.status < 500;
    if (node.dataset.imageId && refused) {
      // the server refused the file itself (its bytes, its size): the record that waited for it
      // is withdrawn, so the gallery keeps no ghost; the card says why and can be dismissed
      const id = node.dataset.imageId;
      delete node.dataset.imageId;
      await api(`/v1/images/${id}`, { method: "DELETE" }).catch(() => { /* the upload TTL purges it */ });
    }
    setStatus(node, "error", refused ? "refused" : "upload failed");
    setError(node, refused ? sentence(err.message) : err.message);
    announce(`${file.name}: upload ${refused ? "refused" : "failed"} (${err.message})`);
    if (node.dataset.imageId) poll(node);
  }
}

function sentence(text) {
  const t = String(text || "").trim();
  if (!t) return "The upload failed.";
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

function uploadAll(files) {
  const list = [...files];
  if (!list.length) return;
  const recipe = $("#recipe-select").value || null; // the choice when the files were picked
  announce(`Uploading ${list.length} file${list.length > 1 ? "s" : ""}`);
  // a few at a time: the browser and the server stay responsive with hundreds of files
  const queue = list.slice();
  const lanes = Math.min(4, queue.length);
  for (let i = 0; i < lanes; i++) {
    (async () => { while (queue.length) await uploadOne(queue.shift(), recipe); })();
  }
}
