"""The web page at ``/`` in a real headless Chromium: upload, prediction, heatmap, slider, errors.

Drives Debian's ``/usr/bin/chromium`` with Playwright (the Python package only: no browser is
downloaded) against a real uvicorn server on loopback, serving the tiny fixture checkpoint.
Skipped, with the reason, where the browser or Playwright is not installed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from serving_fixtures import HEATMAP_REPORT, NOT_XRAY_DIR, OPERATING_POINTS, XRAY_DIR, tiny_checkpoint, upload_kinds

CHROMIUM = Path(os.environ.get("PNEUMO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.is_file():
    pytest.skip(f"browser test: no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser test: the playwright package is not installed")

PNEUMONIA_XRAY = sorted((XRAY_DIR / "test" / "PNEUMONIA").glob("*.jpeg"))[0]


@pytest.fixture(scope="module")
def server():
    from pneumolib.notebook.background import BackgroundServer
    from pneumolib.serving.app import create_app
    from pneumolib.serving.settings import ServiceSettings

    running = BackgroundServer(create_app(tiny_checkpoint(), ServiceSettings())).start(timeout=120)
    yield running
    running.stop()
    assert not running.running


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


# Every content-security-policy violation the page causes is recorded before any of its own code runs.
RECORD_CSP = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
              "(event) => window.__csp.push(`${event.violatedDirective} ${event.blockedURI}`));")


def open_page(browser, url: str):
    """A fresh page at ``url`` with its requests, uncaught script errors and CSP violations recorded."""
    page = browser.new_page()
    page.requests, page.script_errors = [], []
    page.add_init_script(RECORD_CSP)
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    page.on("console", lambda message: "Content Security Policy" in message.text and page.script_errors.append(message.text))
    page.goto(f"{url}/", wait_until="load")
    return page


def close_page(page) -> None:
    violations = page.evaluate("() => window.__csp")
    assert not violations, f"content security policy violations: {violations}"
    assert not page.script_errors, page.script_errors
    page.close()


@pytest.fixture
def page(browser, server):
    """The page, freshly loaded, with every request, uncaught script error and CSP violation recorded."""
    page = open_page(browser, server.url)
    page.wait_for_function("() => !document.getElementById('model-info').textContent.startsWith('Loading')")
    yield page
    close_page(page)


def wait_for_answer(page) -> None:
    page.wait_for_selector("#result:not([hidden]), #error:not([hidden])")
    page.wait_for_function("() => !document.querySelector('#status .spinner')")


def percent(value: float) -> str:
    """The page's way of writing a probability: one decimal, none when it is .0."""
    if 0 < value < 0.001:
        return "<0.1%"
    if 0.999 < value < 1:
        return ">99.9%"
    return re.sub(r"\.0$", "", f"{100 * value:.1f}") + "%"


def image_size(page, selector: str) -> tuple[int, int]:
    page.wait_for_function(f"() => document.querySelector('{selector}').complete")
    return tuple(page.eval_on_selector(selector, "image => [image.naturalWidth, image.naturalHeight]"))


def test_page_is_self_contained_and_shows_model_and_disclaimer(page, server) -> None:
    assert page.is_visible("#disclaimer")
    assert "not a diagnostic tool" in page.inner_text("#disclaimer").lower()
    model = page.inner_text("#model-info")
    assert "tiny" in model and "efficientnet_lite0" in model  # from GET /model
    threshold = OPERATING_POINTS["screening"]["threshold"]
    assert percent(threshold) in page.inner_text("#op-screening")
    assert page.is_checked("input[name=operating_point][value=screening]")
    outside = [url for url in page.requests if not url.startswith(server.url)]
    assert not outside, f"the page fetched external resources: {outside}"


def test_upload_shows_prediction_heatmap_and_slider(page, server) -> None:
    expected = httpx.post(f"{server.url}/predict", files={"file": (PNEUMONIA_XRAY.name, PNEUMONIA_XRAY.read_bytes())},
                          timeout=60).json()
    page.set_input_files("#file", str(PNEUMONIA_XRAY))
    wait_for_answer(page)
    assert page.is_hidden("#error")
    assert page.inner_text("#prediction") == expected["prediction"]
    assert page.inner_text("#probability") == percent(expected["probability"])
    assert page.inner_text("#threshold") == percent(OPERATING_POINTS["screening"]["threshold"])
    assert page.inner_text("#operating-point") == "screening"
    assert "not a medical device" in page.inner_text("#api-disclaimer")
    assert page.is_visible("#disclaimer")  # still there with a result on screen
    fill = page.eval_on_selector("#meter-fill", "bar => bar.getBoundingClientRect().width")
    track = page.eval_on_selector("#meter .track", "bar => bar.getBoundingClientRect().width")
    assert fill == pytest.approx(track * expected["probability"], abs=2)

    overlay_width, overlay_height = image_size(page, "#overlay")
    assert overlay_width > 0 and overlay_height > 0
    base_width, base_height = image_size(page, "#base")  # the upload itself, under the heatmap
    assert base_width > 0 and base_width / base_height == pytest.approx(overlay_width / overlay_height, rel=0.02)
    assert page.is_visible("#overlay") and page.is_visible("#base")

    # the six lung zones: outlines over the film and each one's effect on the call, largest first
    with_map = httpx.post(f"{server.url}/predict", params={"heatmap": "true"}, timeout=60,
                          files={"file": (PNEUMONIA_XRAY.name, PNEUMONIA_XRAY.read_bytes())}).json()
    assert page.locator("#zones-svg polygon").count() == 6 and page.is_visible("#zones")
    listed = page.locator("#zones-list li").all_inner_texts()
    assert [line.split()[0] + " " + line.split()[1] for line in listed] == [z["zone"] for z in with_map["regions"]["zones"]]
    assert page.inner_text("#zones-summary") == with_map["regions"]["summary"]
    assert "not a diagnosis" in page.inner_text("#zones-note")
    # beside a map, how often its hotter lung matched occlusion on the test split (from GET /model)
    agreement = page.inner_text("#map-note")
    assert percent(HEATMAP_REPORT["laterality_agreement"]) in agreement
    assert f"of {HEATMAP_REPORT['films_called_pneumonia']} films called pneumonia" in agreement
    assert f"which names the larger lung: {percent(HEATMAP_REPORT['uniform_laterality_agreement'])})" in agreement
    size = "element => [element.getBoundingClientRect().width, element.getBoundingClientRect().height]"
    svg_box = page.eval_on_selector("#zones-svg", size)
    box = page.eval_on_selector("#overlay", size)
    assert svg_box == pytest.approx(box, abs=1)  # the outlines lie over the film, not beside it

    assert page.eval_on_selector("#overlay", "image => getComputedStyle(image).opacity") == "1"
    page.fill("#opacity", "30")
    assert page.eval_on_selector("#overlay", "image => getComputedStyle(image).opacity") == "0.3"
    assert page.inner_text("#opacity-value") == "30%"
    page.fill("#opacity", "0")
    assert page.eval_on_selector("#overlay", "image => getComputedStyle(image).opacity") == "0"

    page.check("input[name=operating_point][value=balanced]")  # the same file, asked again
    page.wait_for_function("() => document.getElementById('operating-point').textContent === 'balanced'")
    assert page.inner_text("#threshold") == percent(OPERATING_POINTS["balanced"]["threshold"])

    page.uncheck("#heatmap")
    page.wait_for_selector("#overlay", state="hidden")
    assert page.is_hidden("#slider-row") and page.is_visible("#base") and page.is_hidden("#zones")
    assert all(url.startswith((server.url, "data:", "blob:")) for url in page.requests)


def test_non_image_shows_the_api_error_in_plain_words(page) -> None:
    page.set_input_files("#file", {"name": "notes.txt", "mimeType": "text/plain",
                                   "buffer": b"these are my notes, not an X-ray\n"})
    wait_for_answer(page)
    assert page.is_visible("#error") and page.is_hidden("#result")
    text = page.inner_text("#error")
    assert "No prediction was made" in text
    assert "The file is text, not an image" in text  # the API's own detail, verbatim
    assert page.is_hidden("#retry-anyway")


def test_refused_image_offers_an_unreliable_prediction(page) -> None:
    page.set_input_files("#file", str(NOT_XRAY_DIR / "chart_colour_bars.jpg"))
    wait_for_answer(page)
    assert "does not look like a frontal chest X-ray" in page.inner_text("#error-text")
    assert page.is_visible("#retry-anyway")
    page.click("#retry-anyway")
    page.wait_for_selector("#result:not([hidden])")
    assert page.is_checked("#allow-non-xray")
    assert "unreliable" in page.inner_text("#warnings")
    assert "not passed" in page.text_content("#gate-info")  # inside the closed <details>


def test_dicom_upload_keeps_the_heatmap_at_full_opacity(page) -> None:
    name, data, content_type = upload_kinds()["dicom_monochrome2"]
    page.set_input_files("#file", {"name": name, "mimeType": content_type, "buffer": data})
    wait_for_answer(page)
    assert page.is_hidden("#error")
    assert image_size(page, "#overlay")[0] > 0
    assert page.is_hidden("#base")  # a browser cannot draw DICOM itself
    assert page.is_disabled("#opacity")
    assert "DICOM" in page.inner_text("#figure-note")


def test_unreachable_service_is_explained(page, server) -> None:
    page.route("**/predict?*", lambda route: route.abort())
    page.set_input_files("#file", str(PNEUMONIA_XRAY))
    wait_for_answer(page)
    assert "could not be reached" in page.inner_text("#error-text")


def test_page_runs_under_its_content_security_policy(page, server) -> None:
    policy = httpx.get(f"{server.url}/", timeout=30).headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    page.set_input_files("#file", str(PNEUMONIA_XRAY))
    page.check("#heatmap")
    wait_for_answer(page)
    page.wait_for_selector("#overlay:not([hidden])")
    assert page.evaluate("() => window.__csp") == []  # the heatmap (data:) and the film (blob:) are allowed


def test_a_keyed_service_asks_for_the_key_once_and_keeps_it_in_memory(browser) -> None:
    from pneumolib.notebook.background import BackgroundServer
    from pneumolib.serving.app import create_app
    from pneumolib.serving.settings import ServiceSettings

    key = "page-test-key-0123456789"
    keyed = BackgroundServer(create_app(tiny_checkpoint(), ServiceSettings(api_key=key))).start(timeout=120)
    try:
        page = open_page(browser, keyed.url)
        page.wait_for_selector("#key-form:not([hidden])")
        page.fill("#api-key", "not-the-key-0000000000")
        page.click("#key-form button")
        page.wait_for_selector("#key-form:not([hidden])")
        assert "not accepted" in page.inner_text("#key-note")
        page.fill("#api-key", key)
        page.click("#key-form button")
        page.wait_for_function("() => document.getElementById('model-info').textContent.includes('tiny')")
        page.set_input_files("#file", str(PNEUMONIA_XRAY))
        wait_for_answer(page)
        assert page.is_hidden("#error") and page.inner_text("#prediction") in ("Pneumonia", "Normal")
        assert page.is_hidden("#key-form")
        stored = page.evaluate("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie")
        assert key not in stored
        close_page(page)
    finally:
        keyed.stop()
