"""Headless Chromium for the tests: Debian's ``chromium`` driven by Playwright (no browser
download), and the report-page check shared by the UI and CLI tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.servers import missing

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# flags for a closed network and a root user (see the machine notes): no sandbox, no background fetches
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "build" / "screenshots"


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (skipped, or failed under LAKEHOUSE_REQUIRE_SERVERS=1, when not installed)."""
    if not Path(CHROMIUM).exists():
        missing("chromium", "apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def render_report(browser, page_file: Path, screenshot: str) -> None:  # type: ignore[no-untyped-def]
    """Open a report page in Chromium: five images decoded and laid out, the five tables' headings."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(page_file.as_uri(), wait_until="load")
    images = page.locator("img")
    assert images.count() == 5
    for i in range(images.count()):
        expect(images.nth(i)).to_be_visible()
    sizes = page.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert all(complete and width >= 400 and height >= 100 for complete, width, height in sizes), sizes
    for heading in ("Latest strategy weights", "Variance by strategy and regime", "Backtest summary",
                    "Champion models", "Open alerts"):  # fmt: skip
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / screenshot), full_page=True)
    page.context.close()
