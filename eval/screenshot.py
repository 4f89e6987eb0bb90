"""Open a report in Debian's Chromium (Playwright) and check that its charts render; optionally save a PNG.

    python -m eval.screenshot reports/<run>/report.html docs/eval-report.png

Used by the report's browser test and to refresh the screenshot in docs/. Playwright drives the system
Chromium (`apt-get install chromium`); it never downloads a browser of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def open_report(html: Path, png: Path | None = None, width: int = 1280, max_height: int | None = 3200) -> dict:
    """Load the report from disk; return what rendered (title, charts loaded / total).

    With `png`, save a screenshot of the page from the top, cut at `max_height` pixels (a long run's list of
    failing items would make it unreadably tall; None keeps the full page).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(Path(html).resolve().as_uri())
            images = page.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
            info = {"title": page.title(), "charts": len(images), "charts_rendered": sum(images),
                    "h1": page.inner_text("h1")}
            if png:
                Path(png).parent.mkdir(parents=True, exist_ok=True)
                height = page.evaluate("document.documentElement.scrollHeight")
                if max_height:
                    height = min(height, max_height)
                page.screenshot(path=str(png), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
            return info
        finally:
            browser.close()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m eval.screenshot REPORT.html [OUT.png]")
    print(open_report(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else None))
