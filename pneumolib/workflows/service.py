"""``serve`` and ``calibrate-gate``: the HTTP service, and fitting its X-ray gate to a new site."""

from __future__ import annotations

import sys


def serve(checkpoint: str | None = None, host: str = "127.0.0.1", port: int = 8000, engine: str | None = None) -> int:
    """Run the API and web page with uvicorn until interrupted (settings from the environment)."""
    import dataclasses
    import logging

    import uvicorn

    from pneumolib.serving.app import create_app
    from pneumolib.serving.settings import ServiceSettings

    settings = ServiceSettings.from_env()
    if engine:
        settings = dataclasses.replace(settings, engine=engine)
    print(f"pneumolib API on http://{host}:{port}/  (docs: /docs; not a diagnostic tool)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")  # the request log
    uvicorn.run(create_app(checkpoint, settings, load_in_background=True), host=host, port=port, workers=1)
    return 0


def calibrate_site_gate(checkpoint: str, films: str, out: str) -> int:
    """Re-place the X-ray gate's threshold with a site's own unlabelled films; write ``out``."""
    from pneumolib.deploy.site_calibration import GateCalibrationError, calibrate_gate_for_site, site_films

    try:
        result = calibrate_gate_for_site(checkpoint, site_films(films), out)
    except GateCalibrationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for line in result.skipped:
        print(f"skipped {line}")
    print(f"{result.films} films: the gate passed {result.site_accept_before:.1%} of them before, "
          f"{result.site_accept_after:.1%} now (margin {result.margin_before:.2f} -> {result.margin_after:.2f}); "
          f"it still refuses {result.reference_reject_after:.1%} of the reference non-X-rays\nwrote {out}")
    return 0
