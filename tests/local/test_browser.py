"""The web page in Debian's headless Chromium, driven by Playwright, against a real server."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from local.conftest import Server
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
    expect(failed.locator(".error")).to_contain_text("corrupt_image")
    expect(failed.locator(".badge")).to_have_text("failed")

    # each upload reported progress through XHR upload events
    for i in range(5):
        assert int(cards.nth(i).get_attribute("data-progress-events") or "0") >= 1

    coffee = page.locator(".card", has_text="coffee.png")
    expect(coffee.locator(".dims")).to_contain_text("600×400")
    expect(coffee.locator(".renditions li")).to_have_count(6)
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

    # delete the failure from the keyboard: a real button, focusable, Enter works
    failed_id = failed.get_attribute("data-image-id")
    assert failed_id
    failed.locator("button.delete").focus()
    page.keyboard.press("Enter")
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
