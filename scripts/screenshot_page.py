"""Screenshot the web page with a prediction and heatmap on it (for the README: docs/screenshot.png).

Starts the service in a background thread, opens its page in headless Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright; nothing is downloaded), uploads one X-ray the way a
person would, waits for the answer and the heatmap, and saves a PNG of the whole page.

    python scripts/screenshot_page.py                       # model from find_checkpoint()
    python scripts/screenshot_page.py --checkpoint pneumo_work/.../model.pt --image some.jpeg
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _server import REPO, default_image

CHROMIUM = Path(os.environ.get("PNEUMO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="finalized checkpoint (default: pneumolib.checkpoint.find_checkpoint())")
    parser.add_argument("--image", type=Path, help="X-ray to upload (default: the first test-split pneumonia film)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png", help="PNG to write")
    parser.add_argument("--operating-point", choices=("screening", "balanced"), default="screening")
    parser.add_argument("--opacity", type=int, default=100, help="heatmap opacity slider, 0-100")
    parser.add_argument("--width", type=int, default=1280, help="browser window width in CSS pixels")
    parser.add_argument("--height", type=int, default=900, help="browser window height (the whole page is captured)")
    parser.add_argument("--scale", type=float, default=1.0, help="device pixel ratio (2: a sharper, larger PNG)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the server and the answer")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("needs the Playwright Python package: pip install playwright (no browser download; "
                         "the Debian chromium package provides the browser)") from None
    if not CHROMIUM.is_file():
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set PNEUMO_CHROMIUM")
    from pneumolib.checkpoint import find_checkpoint
    from pneumolib.notebook.background import serve_in_background

    checkpoint, source = find_checkpoint(args.checkpoint)
    image = (args.image or default_image()).resolve()
    print(f"model: {checkpoint} ({source})\nimage: {image}")
    with serve_in_background(checkpoint, timeout=args.timeout) as server, \
            tempfile.TemporaryDirectory(prefix="pneumolib-chromium-") as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": args.width, "height": args.height}, device_scale_factor=args.scale)
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/", wait_until="load")
            page.wait_for_function("() => !document.getElementById('model-info').textContent.startsWith('Loading')")
            page.check(f"input[name=operating_point][value={args.operating_point}]")
            page.set_input_files("#file", str(image))
            page.wait_for_selector("#result:not([hidden]), #error:not([hidden])", timeout=args.timeout * 1000)
            if page.is_visible("#error"):
                raise SystemExit(f"the page shows an error: {page.inner_text('#error-text')}")
            page.wait_for_function("() => { const o = document.getElementById('overlay');"
                                   " return o.hidden || (o.complete && o.naturalWidth > 0); }")
            page.fill("#opacity", str(args.opacity))
            page.evaluate("() => document.activeElement && document.activeElement.blur()")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            print(f"{page.inner_text('#prediction')} at {page.inner_text('#probability')} "
                  f"(threshold {page.inner_text('#threshold')})\nwrote {args.out}")
        finally:
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
