// sharp as a benchmark peer: one JSON request per stdin line, one JSON reply per stdout line.
// Request: {"path": "...", "mode": "each" | "cascade", "effort": 4}. Reply: {"outputs": [...]} or {"error": "..."}.
// "each": every output is its own pipeline from the original bytes, as a request-time image service
// runs it (decode with shrink-on-load, autorotate, resize, encode). "cascade": one decode to the
// 2048 px base, then 1024 from 2048 and 256 from 1024, each size encoded as JPEG and WebP.
// The thread budget N comes from the environment: UV_THREADPOOL_SIZE=N (pipelines at once) and
// sharp.concurrency(N) (libvips threads per pipeline), set by bench/engine_sharp.py.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import sharp from "sharp";

const SIZES = [["large", 2048], ["medium", 1024], ["thumb", 256]];
const JPEG_QUALITY = 82;
const WEBP_QUALITY = 80;
const threads = Number(process.env.BENCH_THREADS || "1");
sharp.concurrency(threads);
sharp.cache(false); // the benchmark repeats the same bytes: no cached answers
const files = new Map();

function encode(name, format, pipeline, effort) {
  const coded = format === "jpeg"
    ? pipeline.jpeg({ quality: JPEG_QUALITY, chromaSubsampling: "4:2:0" })
    : pipeline.webp({ quality: WEBP_QUALITY, effort });
  return coded.toBuffer({ resolveWithObject: true }).then(({ data, info }) => (
    { name, format, width: info.width, height: info.height, bytes: data.length }
  ));
}

const box = (edge) => ({ width: edge, height: edge, fit: "inside", withoutEnlargement: true });

function each(input, effort) {
  const jobs = [];
  for (const [name, edge] of SIZES) {
    for (const format of ["webp", "jpeg"]) {
      jobs.push(encode(name, format, sharp(input).rotate().resize(box(edge)), effort));
    }
  }
  return Promise.all(jobs);
}

async function cascade(input, effort) {
  const jobs = [];
  let current = null;
  for (const [name, edge] of SIZES) {
    const from = current === null
      ? sharp(input).rotate()
      : sharp(current.data, { raw: current.info });
    current = await from.resize(box(edge)).raw().toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: current.info.width, height: current.info.height, channels: current.info.channels } };
    current.info = raw.raw;
    jobs.push(encode(name, "webp", sharp(current.data, raw), effort));
    jobs.push(encode(name, "jpeg", sharp(current.data, raw), effort));
  }
  return Promise.all(jobs);
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const request = JSON.parse(line);
  let reply;
  try {
    if (!files.has(request.path)) files.set(request.path, readFileSync(request.path));
    const input = files.get(request.path);
    const outputs = request.mode === "cascade" ? await cascade(input, request.effort) : await each(input, request.effort);
    reply = { outputs };
  } catch (error) {
    reply = { error: String(error && error.stack || error) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
