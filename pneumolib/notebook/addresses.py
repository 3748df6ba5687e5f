"""Where a learner's browser can reach the notebook's service: the tunnel, Colab's proxy, or loopback.

A server started in a Colab notebook listens on the Colab machine's loopback interface, so
``http://127.0.0.1:<port>/`` printed there points at the *learner's own computer*, where nothing
answers. Three addresses can work, in this order: the ngrok tunnel's public URL (anyone with it),
Colab's own proxy for a kernel port (``google.colab.kernel.proxyPort``: only the signed-in learner,
in the browser that runs the notebook), and loopback, which is right only outside Colab (a laptop's
Jupyter, where browser and server share the machine).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceAddress:
    """The base URL to open, and who can open it."""

    base_url: str
    reach: str
    """One sentence: who can use this address."""
    browsable: bool = True
    """False in Colab without a proxy address: the base URL works for the notebook's own requests only."""

    @property
    def page(self) -> str:
        return self.base_url.rstrip("/") + "/"

    @property
    def docs(self) -> str:
        return self.base_url.rstrip("/") + "/docs"

    def __str__(self) -> str:
        if not self.browsable:
            return f"No address your browser can open: {self.reach}."
        return f"web page: {self.page}\nAPI documentation: {self.docs}\n({self.reach})"


def colab_proxy_url(port: int) -> str | None:
    """Colab's proxy URL for ``port`` on this runtime, or None outside Colab (or if Colab cannot say)."""
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab.output import eval_js  # type: ignore[import-not-found]

        url = eval_js(f"google.colab.kernel.proxyPort({int(port)})")
    except Exception:  # noqa: BLE001 - no front end attached (a headless run), or an older Colab
        return None
    return str(url) if url else None


def service_address(local_url: str, port: int, public_url: str | None = None) -> ServiceAddress:
    """The address to print for the learner: public URL, else Colab proxy, else ``local_url``."""
    if public_url:
        return ServiceAddress(public_url, "public: anyone with this URL can use the service while the tunnel is open")
    proxy = colab_proxy_url(port)
    if proxy:
        return ServiceAddress(proxy, "Colab's proxy: only you, signed in to Colab in this browser, can open it")
    if "google.colab" in sys.modules:
        return ServiceAddress(local_url, "Colab did not give a proxy address (run the notebook in a browser tab) and "
                              "there is no tunnel, so the service answers this notebook's own requests only", browsable=False)
    return ServiceAddress(local_url, "this machine only: the server listens on loopback")
