"""The web page in Debian's headless Chromium, driven by Playwright, against a real server."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.conftest import Server, start_server
from testkit import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(150)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

DROP = """([name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type }));
  const zone = document.querySelector("#dropzone");
  for (const kind of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(kind, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def test_upload_watch_and_delete_in_the_page(
    browser: object, make_server: Callable[..., Server], corpus: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    server = make_server(workers=2)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/")
    expect(page.get_by_role("heading", name="imgflow", exact=True)).to_be_visible()
    expect(page.locator("#empty")).to_be_visible()

    # pick several files at once (the label is the keyboard-reachable control for the input)
    expect(page.get_by_label("Choose images")).to_be_attached()
    page.set_input_files(
        "#file-input",
        [
            corpus / "edge/orientation/Landscape_0.jpg",
            corpus / "photos/astronaut.png",
            corpus / "edge/jpeg/truncated.jpg",
            corpus / "photos/coffee.png",
        ],
    )
    # and drop one onto the zone
    hopper = (corpus / "edge/jpeg/hopper.jpg").read_bytes()
    page.evaluate(DROP, ["hopper.jpg", "image/jpeg", base64.b64encode(hopper).decode()])

    cards = page.locator("#gallery .card")
    expect(cards).to_have_count(5)
    expect(page.locator(".card[data-status=done]")).to_have_count(4, timeout=90_000)
    failed = page.locator(".card[data-status=failed]")
    expect(failed).to_have_count(1)
    expect(failed.locator(".name")).to_have_text("truncated.jpg")
    expect(failed).to_have_attribute("data-error-code", "corrupt_image")
    # a sentence on the card; the decoder's own words stay in the record (and the hover title)
    expect(failed.locator(".error")).to_have_text("The jpeg image is corrupt or truncated.")
    expect(failed.locator(".error")).to_have_attribute("title", re.compile(r"^corrupt_image: .*\(.+\)"))
    expect(failed.locator(".badge")).to_have_text("failed")

    # each upload reported progress through XHR upload events
    for i in range(5):
        assert int(cards.nth(i).get_attribute("data-progress-events") or "0") >= 1

    coffee = page.locator(".card", has_text="coffee.png")
    expect(coffee.locator(".dims")).to_contain_text("600×400")
    expect(coffee.locator(".renditions li")).to_have_count(6)
    downloads = coffee.locator(".downloads summary")
    expect(downloads).to_have_text("Downloads (6)")
    downloads.focus()
    page.keyboard.press("Enter")  # the rendition links sit behind one summary, opened from the keyboard
    expect(coffee.locator(".renditions a").first).to_be_visible()
    expect(coffee.locator(".renditions .meta").first).to_contain_text(re.compile(r"\d(\.\d)? (B|KiB|MiB)$"))
    thumb = coffee.locator(".thumb img")
    expect(thumb).to_have_attribute("alt", "Thumbnail of coffee.png")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    link = coffee.get_by_role("link", name="Download thumb jpeg rendition of coffee.png")
    href = link.get_attribute("href") or ""
    resp = httpx.get(href if href.startswith("http") else f"{server.url}{href}")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/jpeg"
    expect(page.locator("#announcer")).not_to_be_empty()

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("IMGFLOW_UPDATE_SCREENSHOT"):  # refresh the README's picture on purpose only
        shutil.copyfile(shot, ROOT / "docs" / "screenshot.png")

    # delete the failure from the keyboard: a real button, focusable, Enter asks first
    failed_id = failed.get_attribute("data-image-id")
    assert failed_id
    failed.locator("button.delete").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delete this image?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("truncated.jpg")
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()  # the safe answer is the default
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Delete")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator(".card[data-status=failed]")).to_have_count(0)
    expect(cards).to_have_count(4)
    assert server.client.get(f"/v1/images/{failed_id}").status_code == 404

    # reprocess makes a new generation and comes back to done
    coffee.get_by_role("button", name="Reprocess").click()
    expect(coffee).to_have_attribute("data-status", "done", timeout=60_000)
    coffee_id = coffee.get_attribute("data-image-id")
    page.wait_for_function(
        "id => fetch(`/v1/images/${id}`).then(r => r.json()).then(b => b.generation === 2 && b.status === 'done')",
        arg=coffee_id,
    )

    # the gallery is rebuilt from the server after a reload, and fits a phone screen
    page.reload()
    expect(page.locator(".card[data-status=done]")).to_have_count(4)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=False)
    assert errors == []
    page.close()


# ---- the page's everyday use --------------------------------------------------------------

SEEDED = 130
TINY = {"name": "tiny", "renditions": [{"name": "thumb", "width": 64, "height": 64, "format": "webp"}]}


def picture(path: Path, width: int, height: int) -> Path:
    """A real photo-like image (a gradient with noise) of the given size."""
    from PIL import Image, ImageFilter

    noise = Image.effect_noise((width, height), 40).convert("RGB")
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    Image.blend(noise, gradient, 0.6).filter(ImageFilter.SMOOTH).save(path, quality=90)
    return path


def seed_failed(data_dir: Path, count: int, message: str) -> list[str]:
    """``count`` failed records named ``seed-000.jpg``... straight into the catalog (quicker than
    uploading), one second apart, the newest now; their ids, oldest first."""
    from imgflow.adapters.sqlite_catalog import SqliteCatalog
    from imgflow.bootstrap import DB_FILE
    from imgflow.records import ErrorInfo, ImageRecord, new_image_id

    data_dir.mkdir(parents=True, exist_ok=True)
    catalog = SqliteCatalog(data_dir / DB_FILE)
    now = time.time()
    ids = []
    try:
        for i in range(count):
            at = now - count + i
            record = ImageRecord(
                image_id=new_image_id(at),
                owner="local",
                status="failed",
                created_at=at,
                updated_at=at,
                filename=f"seed-{i:03}.jpg",
                error=ErrorInfo(code="corrupt_image", message=message),
                generation=1,
            )
            catalog.create(record)
            ids.append(record.image_id)
    finally:
        catalog.close()
    return ids


def new_page(browser: object, server: Server, **context: Any) -> Any:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    page = browser.new_context(**context).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    page.goto(f"{server.url}/")
    return page


def test_upload_and_reprocess_choose_a_recipe(
    browser: object, make_server: Callable[..., Server], corpus: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from imgflow.recipes import default_recipe

    config = tmp_path / "imgflow.yaml"
    config.write_text(json.dumps({"recipes": {"default": default_recipe().model_dump(mode="json"), "tiny": TINY}}))
    server = make_server(workers=1, args=("--config", str(config)))
    page = new_page(browser, server, viewport={"width": 1200, "height": 900})
    select = page.get_by_label("Recipe for new uploads")
    expect(select.locator("option")).to_have_text(["default", "tiny"])
    expect(select).to_have_value("default")
    select.select_option("tiny")
    expect(page.locator("#recipe-hint")).to_contain_text("thumb 64×64 (webp)")
    page.set_input_files("#file-input", [corpus / "photos/coffee.png"])
    card = page.locator(".card", has_text="coffee.png")
    expect(card).to_have_attribute("data-status", "done", timeout=60_000)
    image_id = card.get_attribute("data-image-id")
    record = server.client.get(f"/v1/images/{image_id}").json()
    assert (record["recipe"], [r["name"] for r in record["renditions"]]) == ("tiny", ["thumb"])
    expect(card.locator(".renditions li")).to_have_count(1)

    # the card offers the recipes for Reprocess, starting from the image's own
    choice = card.get_by_label("Recipe for reprocessing coffee.png")
    expect(choice).to_have_value("tiny")
    choice.select_option("default")
    card.get_by_role("button", name="Reprocess").click()
    page.wait_for_function(
        "id => fetch(`/v1/images/${id}`).then(r => r.json()).then(b => b.generation === 2 && b.status === 'done')",
        arg=image_id,
    )
    expect(card.locator(".renditions li")).to_have_count(6)
    expect(choice).to_have_value("default")
    assert server.client.get(f"/v1/images/{image_id}").json()["recipe"] == "default"
    assert page.errors == []


def test_the_gallery_pages_past_one_hundred_images(browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    data_dir = tmp_path / "data"
    seed_failed(data_dir, SEEDED, "seeded")
    server = start_server(tmp_path / "serve", workers=1, data_dir=data_dir)
    try:
        page = new_page(browser, server, viewport={"width": 1200, "height": 900})
        cards = page.locator("#gallery .card")
        expect(cards).to_have_count(100)
        expect(cards.first.locator(".name")).to_have_text(f"seed-{SEEDED - 1:03}.jpg")  # newest first
        more = page.get_by_role("button", name="Show older images")
        more.focus()
        page.keyboard.press("Enter")
        expect(cards).to_have_count(SEEDED)
        expect(more).to_be_hidden()
        expect(cards.last.locator(".name")).to_have_text("seed-000.jpg")
        names = cards.locator(".name").all_text_contents()
        assert sorted(names) == [f"seed-{i:03}.jpg" for i in range(SEEDED)]
        # a refresh keeps the older pages and adds nothing twice
        page.get_by_role("button", name="Refresh").click()
        page.wait_for_timeout(300)
        expect(cards).to_have_count(SEEDED)
        assert page.errors == []
    finally:
        assert server.stop() == 0


def test_delete_asks_first_and_refused_uploads_can_be_dismissed(
    browser: object, make_server: Callable[..., Server], corpus: Path
) -> None:
    from playwright.sync_api import expect

    server = make_server(workers=1)
    page = new_page(browser, server, viewport={"width": 1200, "height": 900})
    page.set_input_files("#file-input", [corpus / "photos/coffee.png"])
    coffee = page.locator(".card", has_text="coffee.png")
    expect(coffee).to_have_attribute("data-status", "done", timeout=60_000)
    image_id = coffee.get_attribute("data-image-id")

    # a type the server refuses: the card says why and can be dismissed, from the keyboard too
    page.evaluate(DROP, ["scan.bmp", "image/bmp", base64.b64encode(b"BM" + bytes(64)).decode()])
    refused = page.locator(".card", has_text="scan.bmp")
    expect(refused).to_have_attribute("data-status", "error")
    expect(refused.locator(".error")).not_to_be_empty()
    expect(refused.get_by_role("button", name="Delete")).to_be_hidden()
    refused.get_by_role("button", name="Dismiss").focus()
    page.keyboard.press("Enter")
    expect(refused).to_have_count(0)
    expect(coffee.get_by_role("button", name="Reprocess")).to_be_focused()  # the keyboard stays in the gallery

    dialog = page.get_by_role("dialog", name="Delete this image?")
    delete = coffee.get_by_role("button", name="Delete")
    delete.click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")  # Escape keeps the image
    expect(dialog).to_be_hidden()
    delete.click()
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    expect(delete).to_be_focused()
    assert server.client.get(f"/v1/images/{image_id}").status_code == 200
    expect(coffee).to_have_count(1)
    delete.click()
    dialog.get_by_role("button", name="Delete").click()
    expect(coffee).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()
    assert server.client.get(f"/v1/images/{image_id}").status_code == 404
    assert page.errors == []


def test_portrait_images_keep_the_grid_even_and_phones_get_big_tap_targets(
    browser: object, make_server: Callable[..., Server], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    server = make_server(workers=2)
    page = new_page(browser, server, viewport={"width": 1200, "height": 900})
    shapes = [picture(tmp_path / f"{name}.jpg", w, h) for name, w, h in [("tall", 500, 1500), ("wide", 1500, 500)]]
    page.set_input_files("#file-input", [*shapes, picture(tmp_path / "photo.jpg", 900, 600)])
    expect(page.locator(".card[data-status=done]")).to_have_count(3, timeout=60_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.thumb img')].every(i => i.complete && i.naturalWidth)"
    )
    boxes = page.locator(".thumb").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.top, r.width, r.height]; })"
    )
    assert len(boxes) == 3
    assert len({round(b[0]) for b in boxes}) == 1, boxes  # one row
    assert len({(round(b[1]), round(b[2])) for b in boxes}) == 1, boxes  # the same box for every shape
    assert abs(boxes[0][1] / boxes[0][2] - 4 / 3) < 0.02, boxes
    inside = page.locator(".thumb img").evaluate_all(
        "els => els.every(i => { const r = i.getBoundingClientRect(), b = i.parentElement.getBoundingClientRect();"
        " return r.height <= b.height + 0.5 && r.width <= b.width + 0.5; })"
    )
    assert inside

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(".downloads").evaluate_all("els => els.forEach(d => { d.open = true; })")
    targets = page.locator(".card a, .card button:visible, .card select:visible, .card summary:visible").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [e.textContent.trim() || e.getAttribute('aria-label'), r.width, r.height]; })"
    )
    assert len(targets) >= 3 * (6 + 2 + 2)
    small = [t for t in targets if t[1] < 44 or t[2] < 44]
    assert small == [], small
    assert page.errors == []


def test_the_gallery_uses_the_on_demand_srcset_at_the_device_pixel_ratio(
    browser: object, make_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Issue 19: the thumbnail's candidates are the record's signed /t/ URLs (every srcset width
    the image fills), not the fixed renditions; at DPR 2 the ~350 px box takes the 960 px one, in
    the format the server picks from the browser's Accept; a tiny image is shown at its size."""
    server = make_server(workers=1)
    page = new_page(browser, server, viewport={"width": 1200, "height": 900}, device_scale_factor=2)
    page.set_input_files("#file-input", [picture(tmp_path / "big.jpg", 2400, 1600)])
    img = page.locator(".card .thumb img")
    img.wait_for(timeout=60_000)
    page.wait_for_function("i => i.complete && i.naturalWidth > 0 && i.currentSrc.includes('/t/')",
                           arg=img.element_handle(), timeout=60_000)  # fmt: skip
    srcset = img.get_attribute("srcset") or ""
    urls = [c.rsplit(" ", 1)[0] for c in srcset.split(", ")]
    widths = [int(c.rsplit(" ", 1)[1].rstrip("w")) for c in srcset.split(", ")]
    assert widths == [320, 640, 960, 1280, 1920], srcset  # ondemand.srcset_widths the image fills
    assert all("/t/" in u for u in urls), srcset
    assert (img.get_attribute("sizes") or "").startswith("auto")
    current, box = img.evaluate("i => [i.currentSrc, i.getBoundingClientRect().width]")
    picked = dict(zip(urls, widths, strict=True))
    assert picked[current] >= 2 * box > picked[current] / 2, (current, picked, box)  # sharp, not the heaviest
    assert picked[current] == 960, current
    accept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"  # what chromium asks images with
    kind = page.evaluate("([u, a]) => fetch(u, {headers: {accept: a}}).then(r => r.headers.get('content-type'))",
                         [current, accept])  # fmt: skip
    assert kind in ("image/avif", "image/webp"), kind  # f_auto: the lightest the browser takes
    downloads = page.locator(".card a[download]").evaluate_all("as => as.map(a => a.href)")
    assert downloads
    assert all("/t/" not in d for d in downloads)

    page.set_input_files("#file-input", [picture(tmp_path / "tiny.jpg", 57, 43)])
    tiny = page.locator(".card", has_text="tiny.jpg").locator(".thumb img")
    tiny.wait_for(timeout=60_000)
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=tiny.element_handle())
    size = tiny.evaluate("i => [i.getBoundingClientRect().width, i.getBoundingClientRect().height]")
    assert size == [57, 43], size  # at its own size, not stretched into the box
    assert page.errors == []


def test_a_listing_during_an_upload_leaves_one_card_per_image(
    browser: object, make_server: Callable[..., Server], corpus: Path
) -> None:
    """The gallery listing answers while an upload's POST /v1/uploads is still on its way back:
    the listing shows the new image, then the upload's own card takes that image over. Before,
    both stayed (two cards for one image; the first browser test flaked on it under load)."""
    from playwright.sync_api import Browser, Route, expect

    assert isinstance(browser, Browser)
    server = make_server(workers=1)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{server.url}/")
    expect(page.locator("#empty")).to_be_visible()
    held: list[tuple[Route, Any]] = []

    def hold(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        held.append((route, route.fetch()))  # the record exists on the server; its answer waits

    page.route("**/v1/uploads", hold)
    page.set_input_files("#file-input", [corpus / "photos/coffee.png"])
    deadline = time.monotonic() + 30
    while not held:
        assert time.monotonic() < deadline, "the upload never asked for its grant"
        page.wait_for_timeout(50)
    route, answer = held[0]
    image_id = answer.json()["image"]["image_id"]
    page.click("#refresh")  # the listing shows the image the upload has not heard of yet
    expect(page.locator(f'.card[data-key="{image_id}"]')).to_have_count(1)
    expect(page.locator("#gallery .card")).to_have_count(2)  # its card, and the upload's own
    route.fulfill(response=answer)
    expect(page.locator("#gallery .card")).to_have_count(1)
    expect(page.locator(".card[data-status=done]")).to_have_count(1, timeout=60_000)
    page.close()


def test_tags_and_alt_text_show_edit_and_filter_the_gallery(
    browser: object, make_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Issue 20 on the page: tags as chips, the alt text shown and used as the <img> alt, both
    edited inline (a conditional merge patch: a stale card is told and redrawn), a chip filters."""
    from playwright.sync_api import expect

    server = make_server(workers=1)
    beach = picture(tmp_path / "beach.jpg", 400, 300)
    city = picture(tmp_path / "city.jpg", 400, 300)
    fields = {"filename": "beach.jpg", "tags": "beach,sea", "alt": "Waves at dusk"}
    tagged = server.client.post(
        "/v1/images", content=beach.read_bytes(), headers={"content-type": "image/jpeg"}, params=fields
    )
    assert tagged.status_code == 202, tagged.text
    server.upload_direct(city, "image/jpeg")
    page = new_page(browser, server, viewport={"width": 1200, "height": 900})
    card = page.locator(".card", has_text="beach.jpg")
    expect(card.locator(".tags button")).to_have_text(["beach", "sea"], timeout=60_000)
    expect(card.locator(".alt")).to_have_text("Alt text: Waves at dusk")
    expect(card.locator(".thumb img")).to_have_attribute("alt", "Waves at dusk", timeout=60_000)

    card.locator(".meta-edit summary").click()
    card.locator(".tags-input").fill("beach, holiday")
    card.locator(".alt-input").fill("Waves at dusk, Brittany")
    card.locator(".save-meta").click()
    expect(card.locator(".meta-status")).to_have_text("Saved.")
    expect(card.locator(".tags button")).to_have_text(["beach", "holiday"])
    record = server.client.get(f"/v1/images/{tagged.json()['image_id']}").json()
    assert (record["tags"], record["alt"]) == (["beach", "holiday"], "Waves at dusk, Brittany")

    # someone else changes it: the card's next save is refused (412), told, and redrawn
    patched = server.client.patch(f"/v1/images/{record['image_id']}", json={"tags": ["elsewhere"]})
    assert patched.status_code == 200, patched.text
    card.locator(".tags-input").fill("mine")
    card.locator(".save-meta").click()
    expect(card.locator(".meta-status")).to_contain_text("changed meanwhile")
    expect(card.locator(".tags button")).to_have_text(["elsewhere"])

    expect(page.locator(".card")).to_have_count(2)
    card.locator(".tags button", has_text="elsewhere").click()
    expect(page.locator(".card")).to_have_count(1)
    expect(page.locator(".card .name")).to_have_text("beach.jpg")
    page.locator("#tag-filter-clear").click()
    expect(page.locator(".card")).to_have_count(2)
    assert page.errors == []


def test_the_server_going_away_is_one_notice_and_clears_when_it_is_back(
    browser: object, make_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Issue 19: no raw "Failed to fetch": a page-level notice while imgflow does not answer, a
    failed upload marked as failed with a sentence, and the notice gone once it answers again."""
    from playwright.sync_api import expect

    server = make_server(workers=1)
    page = new_page(browser, server, viewport={"width": 1200, "height": 900})
    expect(page.locator("#offline")).to_be_hidden()
    page.context.set_offline(True)
    page.locator("#refresh").click()
    notice = page.locator("#offline")
    expect(notice).to_be_visible()
    expect(notice).to_have_text("imgflow is not answering; retrying…")
    page.set_input_files("#file-input", [picture(tmp_path / "away.jpg", 300, 200)])
    card = page.locator(".card", has_text="away.jpg")
    expect(card.locator(".badge")).to_have_text("upload failed")
    expect(card.locator(".error")).to_have_text("imgflow is not answering (is the server running?)")
    expect(card.locator(".thumb .placeholder")).to_have_text("✕")
    assert "Failed to fetch" not in page.content()
    page.context.set_offline(False)
    expect(notice).to_be_hidden(timeout=30_000)  # the probe found it back
    assert page.errors == []


def test_the_token_panel_shows_only_when_the_server_needs_a_token_and_downloads_carry_the_name(
    browser: object, make_server: Callable[..., Server], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    open_server = make_server(workers=1)
    page = new_page(browser, open_server, viewport={"width": 1200, "height": 900})
    expect(page.locator("#token-box")).to_be_hidden()  # answered without a token
    assert httpx.get(f"{open_server.url}/favicon.ico").status_code == 204
    page.set_input_files("#file-input", [picture(tmp_path / "holiday.jpg", 300, 200)])
    link = page.locator(".card", has_text="holiday.jpg").locator(".renditions a").first
    expect(link).to_have_attribute("download", re.compile(r"^holiday-\w+\.(jpg|webp)$"), timeout=60_000)

    token = "t" * 40
    locked = make_server(workers=1, auth="token", api_token=token)
    page = new_page(browser, locked, viewport={"width": 1200, "height": 900})
    expect(page.locator("#token-box")).to_be_visible()  # a 401: the panel opens
    expect(page.locator("#token-box")).to_have_attribute("open", "")
    assert page.errors == []


def _luminance(rgb: tuple[int, ...]) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    la, lb = (_luminance(tuple(int(x) for x in re.findall(r"\d+", c)[:3])) for c in (a, b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def test_keyboard_use_a_skip_link_a_visible_focus_ring_and_few_tab_stops_per_card(
    browser: object, make_server: Callable[..., Server], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    server = make_server(workers=1)
    page = new_page(browser, server, viewport={"width": 1200, "height": 900})
    page.set_input_files("#file-input", [picture(tmp_path / "one.jpg", 640, 480)])
    card = page.locator(".card", has_text="one.jpg")
    expect(card).to_have_attribute("data-status", "done", timeout=60_000)
    page.keyboard.press("Tab")  # the first Tab stop of the page skips to the images
    skip = page.get_by_role("link", name="Skip to the images")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "images"

    # WCAG 1.4.11: the focus ring has 3:1 against what is around it (the page and the cards)
    page.keyboard.press("Tab")  # from the gallery's start: the Refresh button, by keyboard (:focus-visible)
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineColor]; }"
    )
    assert ring[0] == "solid", ring
    page_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    body_bg = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    card_bg = card.evaluate("e => getComputedStyle(e).backgroundColor")
    for around in {page_bg, body_bg, card_bg} - {"rgba(0, 0, 0, 0)"}:
        assert _contrast(ring[1], around) >= 3, (ring, around)

    # one card is a few Tab stops: its editor, its downloads, Reprocess, Delete (not one per rendition)
    card.locator("summary").first.focus()
    stops = [page.evaluate("document.activeElement.textContent.trim()")]
    for _ in range(12):
        page.keyboard.press("Tab")
        if not card.evaluate("c => c.contains(document.activeElement)"):
            break
        stops.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert stops == ["Tags and alt text", "Downloads (6)", "Reprocess", "Delete"], stops
    assert page.errors == []


def test_the_page_uploads_by_the_bytes_not_the_name(
    browser: object, make_server: Callable[..., Server], corpus: Path
) -> None:
    """Issue 19 item 3 in the page: a PNG named .jpg and labelled image/jpeg is processed as a PNG;
    bytes of no accepted format under an image name are refused with a sentence, nothing stored."""
    from playwright.sync_api import expect

    server = make_server(workers=1)
    page = new_page(browser, server, viewport={"width": 1200, "height": 900})
    png = (corpus / "photos/coffee.png").read_bytes()
    page.evaluate(DROP, ["really-a-png.jpg", "image/jpeg", base64.b64encode(png).decode()])
    card = page.locator(".card", has_text="really-a-png.jpg")
    expect(card).to_have_attribute("data-status", "done", timeout=60_000)
    record = server.client.get(f"/v1/images/{card.get_attribute('data-image-id')}").json()
    assert record["facts"]["format"] == "png"
    page.evaluate(DROP, ["notes.jpg", "image/jpeg", base64.b64encode(b"just some text, not an image").decode()])
    refused = page.locator(".card", has_text="notes.jpg")
    expect(refused).to_have_attribute("data-status", "error")
    expect(refused.locator(".error")).to_contain_text(re.compile(r"accepted", re.I))
    expect(refused.locator(".error")).not_to_contain_text("Failed to fetch")
    expect(refused.locator(".badge")).to_have_text("refused")
    expect(refused.get_by_role("button", name="Dismiss")).to_be_visible()  # the record that waited is withdrawn
    assert [i["filename"] for i in server.client.get("/v1/images").json()["items"]] == ["really-a-png.jpg"]
    assert page.errors == []


def test_a_full_first_page_when_the_newest_images_were_deleted(browser: object, tmp_path: Path) -> None:
    """Issue 19 item 7 in the page: deleted images among the newest never shorten a page."""
    from playwright.sync_api import expect

    data_dir = tmp_path / "data"
    ids = seed_failed(data_dir, 105, "the jpeg image is corrupt or truncated (seeded)")
    server = start_server(tmp_path / "serve", workers=1, data_dir=data_dir)
    try:
        for image_id in ids[-3:]:  # the three newest go
            assert server.client.delete(f"/v1/images/{image_id}").status_code == 204
        assert server.client.delete(f"/v1/images/{ids[-1]}").status_code == 204  # a second delete: as documented
        page = new_page(browser, server, viewport={"width": 1200, "height": 900})
        cards = page.locator("#gallery .card")
        expect(cards).to_have_count(100)
        expect(cards.first.locator(".name")).to_have_text("seed-101.jpg")
        expect(cards.first.locator(".error")).to_have_text("The jpeg image is corrupt or truncated.")
        page.get_by_role("button", name="Show older images").click()
        expect(cards).to_have_count(102)
        expect(page.get_by_role("button", name="Show older images")).to_be_hidden()
        assert page.errors == []
    finally:
        assert server.stop() == 0


def test_the_example_file_serves_the_page_a_plain_server_does(
    browser: object, make_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Issue 19 item 6 in the page: imgflow.example.yaml says every value is the default; served
    with it, an upload gets what a plain `make run` gives (its extra recipe aside)."""
    from playwright.sync_api import expect

    photo = picture(tmp_path / "same.jpg", 800, 600)
    seen: dict[str, Any] = {}
    for name, args in (("plain", ()), ("example", ("--config", str(ROOT / "imgflow.example.yaml")))):
        server = make_server(workers=1, args=args)
        page = new_page(browser, server, viewport={"width": 1200, "height": 900})
        if name == "example":  # its second recipe is offered; the default stays the default
            expect(page.get_by_label("Recipe for new uploads")).to_have_value("default")
        page.set_input_files("#file-input", [photo])
        card = page.locator(".card", has_text="same.jpg")
        expect(card).to_have_attribute("data-status", "done", timeout=60_000)
        record = server.client.get(f"/v1/images/{card.get_attribute('data-image-id')}").json()
        # each candidate's options and width: /t/{signature}/{options}/{id}/{generation} {width}w
        srcset = [(p.split("/t/", 1)[1].split("/")[1], p.rsplit(" ", 1)[1]) for p in record["srcset"].split(", ")]
        shown = card.locator(".thumb img").get_attribute("srcset") or ""
        assert shown.count("/t/") == len(srcset)  # the page uses the on-demand URLs either way
        seen[name] = (
            record["recipe"],
            sorted((r["name"], r["format"], r["width"], r["height"]) for r in record["renditions"]),
            srcset,
            card.locator(".downloads summary").text_content(),
        )
        assert page.errors == []
    assert seen["plain"] == seen["example"]
