"""On-demand ``/t/`` URLs against a real ``imgflow serve``: renders in render processes, a warm
cache, 304s, redirects across generations, 404 after a delete, and every refusal over HTTP."""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

from imgflow.ondemand import Signer
from imgflow.ondemand.signing import derive_key
from imgflow.ondemand.urls import sign_path
from local.conftest import IMGFLOW, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ACCEPT_AVIF = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"


def signer_of(server: Server) -> Signer:
    """The key the server derives from its signing key (what an operator's own tooling would do)."""
    secret = (server.data_dir / "signing.key").read_text(encoding="ascii").strip().encode()
    return Signer([derive_key(secret)])


def maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text(encoding="utf-8", errors="replace")


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def children(pid: int) -> list[int]:
    """Every thread's children (the supervisor restarts processes from its own thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def done_image(server: Server, path: Path) -> dict[str, object]:
    record = server.upload_direct(path, "image/jpeg")
    final = server.wait_final(str(record["image_id"]))
    assert final["status"] == "done", final
    return final


def test_transform_urls_end_to_end(make_server: Callable[..., Server], corpus: Path) -> None:
    server = make_server(workers=1, ondemand__presets='{"thumb": "w_200,h_200,fit_cover"}',
                         ondemand__public_presets='["thumb"]')  # fmt: skip
    record = done_image(server, corpus / "photos" / "ColorfulCups_2560x1600.jpg")
    image_id = str(record["image_id"])
    http = server.client

    # the record view's srcset: configured widths the image can fill, each URL answering that width
    srcset = str(record["srcset"])
    entries = [item.strip().rsplit(" ", 1) for item in srcset.split(",")]
    assert [w for _, w in entries] == ["320w", "640w", "960w", "1280w", "1920w"]
    for url, descriptor in entries[:2]:
        resp = http.get(url, headers={"accept": ACCEPT_AVIF})
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "image/avif"
        assert resp.headers["vary"] == "Accept"
        assert "immutable" in resp.headers["cache-control"]
        with Image.open(io.BytesIO(resp.content)) as image:
            assert f"{image.size[0]}w" == descriptor

    # f_auto: WebP for a WebP browser, JPEG for */*
    url = entries[0][0]
    webp = http.get(url, headers={"accept": "image/webp,*/*"})
    assert webp.headers["content-type"] == "image/webp"
    jpeg = http.get(url, headers={"accept": "*/*"})
    assert jpeg.headers["content-type"] == "image/jpeg"
    assert len({webp.headers["etag"], jpeg.headers["etag"]}) == 2

    # the owner's signed URL; warm after the first request; 304 on a matching ETag
    made = http.get(f"/v1/images/{image_id}/transform-url", params={"width": 401, "format": "webp"})
    assert made.status_code == 200, made.text
    signed = made.json()["url"]
    assert "/w_480,f_webp/" in signed  # rounded up to an allowed width
    first = http.get(signed)
    assert first.status_code == 200
    assert "vary" not in first.headers
    cache_files = list((server.data_dir / "ondemand-cache").glob("??/*.webp"))
    assert cache_files
    renders = sum(1 for line in server.log_lines() if line.get("message") == "render")
    again = http.get(signed)
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert sum(1 for line in server.log_lines() if line.get("message") == "render") == renders  # a cache hit
    assert http.get(signed, headers={"if-none-match": first.headers["etag"]}).status_code == 304
    assert http.head(signed).headers["content-length"] == str(len(first.content))

    # the CLI prints the same URL; a refusal exits 1, usage and connection problems 2
    cli = subprocess.run(
        [str(IMGFLOW), "url", image_id, "--width", "401", "--format", "webp", "--server", server.url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (cli.returncode, cli.stdout) == (0, signed + "\n"), cli.stderr
    for args, code in [(["01HZX3M8Q7V4N6J2K9T5R0W1YC", "-w", "400"], 1), ([image_id, "-w", "9000"], 1),
                       ([image_id], 2), ([image_id, "-w", "400", "--server", "http://127.0.0.1:9"], 2)]:  # fmt: skip
        run = subprocess.run([str(IMGFLOW), "url", *args, *([] if "--server" in args else ["--server", server.url])],
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert (run.returncode, run.stdout) == (code, ""), (args, run.stderr)
        assert run.stderr.startswith("imgflow: "), run.stderr

    # refusals: tampered, unsigned, off the grid (signed), bad options, wrong method
    path = signed.removeprefix(server.url)
    tampered = http.get(path.replace("w_480", "w_640"))
    assert tampered.status_code == 403
    assert tampered.headers["content-type"] == "application/problem+json"
    assert tampered.json()["code"] == "bad_signature"
    assert tampered.headers["cache-control"] == "no-store"
    assert http.get(f"/t/_/w_480/{image_id}/1").json()["code"] == "bad_signature"
    signer = signer_of(server)
    off_grid = http.get(sign_path(signer, "w_481", image_id, 1))
    assert (off_grid.status_code, off_grid.json()["code"]) == (400, "bad_transform")
    dup = http.get(sign_path(signer, "w_480,w_480", image_id, 1))
    assert (dup.status_code, dup.json()["code"]) == (400, "bad_transform")
    assert http.post(path).status_code == 405
    assert http.get(f"/t/x/w_480/{image_id}").status_code == 404

    # a public preset needs no signature
    thumb = http.get(f"/t/_/p_thumb/{image_id}/1", headers={"accept": "image/webp"})
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.size == (200, 200)

    # a reprocess makes generation 2; while it runs, generation 1's cached answers still serve
    # and an uncached one is "not ready"; once done, generation 1's URLs redirect there
    assert http.post(f"/v1/images/{image_id}/reprocess").status_code == 202
    worker = server.pause_holder(image_id)  # the reprocess stays in progress while paused
    assert worker is not None, "the reprocess ended before its worker could be paused"
    assert http.get(signed).status_code == 200  # cached
    not_ready = http.get(entries[4][0])  # 1920w: never asked for
    assert not_ready.status_code == 503, not_ready.text
    assert (not_ready.json()["code"], not_ready.headers["retry-after"]) == ("not_ready", "5")
    os.kill(worker, signal.SIGCONT)
    assert server.wait_final(image_id)["generation"] == 2
    moved = http.get(signed)
    assert moved.status_code == 302
    assert moved.headers["location"].endswith(f"/{image_id}/2")
    assert http.get(moved.headers["location"]).status_code == 200
    assert http.get(f"/t/_/p_thumb/{image_id}/1").headers["location"] == f"/t/_/p_thumb/{image_id}/2"
    assert http.get(sign_path(signer, "w_480", image_id, 3)).status_code == 404

    # a delete ends every URL at once, cached or not
    cached = moved.headers["location"]
    assert http.delete(f"/v1/images/{image_id}").status_code == 204
    gone = http.get(cached)
    assert (gone.status_code, gone.json()["code"]) == (404, "not_found")

    # every answer counted: cache hits, renders (timed), 304s, redirects, refusals by code
    metrics = http.get("/metrics").text
    for outcome in ("hit", "rendered", "not_modified", "redirect", "bad_signature", "bad_transform", "not_found",
                    "not_ready"):  # fmt: skip
        assert f'imgflow_ondemand_total{{outcome="{outcome}"}}' in metrics, outcome
    assert "imgflow_ondemand_render_seconds_count" in metrics

    # the server process never loads libvips; the render processes do
    kids = children(server.proc.pid)
    assert "libvips" not in maps(server.proc.pid)
    assert any("libvips" in maps(pid) for pid in kids)


def test_busy_timeout_and_restart(make_server: Callable[..., Server], corpus: Path) -> None:
    slow = make_server(
        workers=1,
        ondemand__renderers="1",
        ondemand__render_queue="0",
        ondemand__render_timeout_seconds="1.5",
    )
    record = done_image(slow, corpus / "photos" / "coffee.png")
    # the one renderer hangs (paused from outside, no test hook in the product): every render
    # sent to it runs past the timeout
    renderers = [pid for pid in children(slow.proc.pid) if b"render" in cmdline(pid)]
    assert len(renderers) == 1, renderers
    os.kill(renderers[0], signal.SIGSTOP)
    image_id = str(record["image_id"])
    signer = signer_of(slow)
    urls = [f"{slow.url}{sign_path(signer, f'w_{w}', image_id, 1)}" for w in (320, 400)]
    before = set(children(slow.proc.pid))

    def get(url: str) -> httpx.Response:
        return httpx.get(url, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(get, urls))  # whichever reaches the one renderer first hangs in it
    busy, timed_out = sorted(answers, key=lambda r: r.status_code)
    assert busy.status_code == 429, busy.text
    assert busy.json()["code"] == "too_busy"
    assert int(busy.headers["retry-after"]) >= 1
    assert timed_out.status_code == 503, timed_out.text
    assert timed_out.json()["code"] == "render_timeout"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and set(children(slow.proc.pid)) & before == before:
        time.sleep(0.1)
    assert set(children(slow.proc.pid)) != before  # the hung renderer was killed and replaced
    slow.wait_log(lambda x: x.get("message") == "renderer started" and x.get("restarts", 0) >= 1)
    assert len(slow.worker_pids()) == 1  # renderers are not counted as workers in the log

    # the new renderer clears the dead one's socket: only live renderers' sockets remain
    def sockets_match() -> bool:
        live = {f"render-{pid}.sock" for pid in children(slow.proc.pid) if b"render" in cmdline(pid)}
        return bool(live) and {p.name for p in (slow.data_dir / "run").glob("render-*.sock")} == live

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not sockets_match():
        time.sleep(0.1)
    assert sockets_match(), sorted(p.name for p in (slow.data_dir / "run").glob("*"))
    lines = [line for line in slow.log_lines() if line.get("message") == "render timed out; killing its process"]
    assert lines, json.dumps(slow.log_lines()[-5:])
