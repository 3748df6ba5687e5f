"""Who may use the service a notebook opens to the internet, decided in one call.

A tunnel's URL is public: whoever has it reaches the service. Three things are switched on
from here, so that notebook 06 shows them in one cell:

* the **per-client limits** for a public URL (:data:`PUBLIC_LIMITS`): one client posting in a loop
  gets 429s instead of holding every inference slot;
* a **service key** when the Colab secret (or environment variable) ``PNEUMO_API_KEY`` holds one:
  ``/predict`` and ``/model`` then need it, and the page asks for it;
* the tunnel's own **login** is read by :func:`pneumolib.notebook.tunnel.open_tunnel` from
  ``PNEUMO_TUNNEL_LOGIN``; :func:`describe_access` says in words what the learner has chosen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pneumolib.notebook.tunnel import LOGIN_NAME, find_login, find_secret
from pneumolib.serving.settings import API_KEY_ENV, ServiceSettings

#: Per-client limits for a service on a public URL (ServiceSettings field -> value). A heatmap
#: request does not borrow an idle slot there: one visitor's request holds one core, whatever
#: strangers are sending.
PUBLIC_LIMITS = {"client_max_in_flight": 2, "client_rate_per_minute": 60, "client_burst": 10,
                 "heatmap_idle_slot": False}


@dataclass(frozen=True)
class PublicAccess:
    """The settings to serve with, and where the key came from (None: no key)."""

    settings: ServiceSettings
    key_source: str | None

    @property
    def api_key(self) -> str:
        return self.settings.api_key

    def request_headers(self) -> dict[str, str]:
        """What a client of this service sends: the key's header when there is a key."""
        return {"X-API-Key": self.api_key} if self.api_key else {}


def public_settings(base: ServiceSettings | None = None) -> PublicAccess:
    """``base`` (default: from the environment) with the public limits and the key, when one is stored."""
    base = base or ServiceSettings.from_env()
    key, _ = find_secret(API_KEY_ENV)
    settings = dataclasses.replace(base, **PUBLIC_LIMITS, api_key=key.value if key else base.api_key)
    return PublicAccess(settings, key.source if key else ("the environment" if base.api_key else None))


def describe_access(access: PublicAccess) -> str:
    """Plain sentences: the limits, whether a key is needed, whether the tunnel will ask for a login."""
    limits = access.settings
    lines = [f"Per client: at most {limits.client_max_in_flight} requests at once and "
             f"{limits.client_rate_per_minute:g} a minute after a burst of {limits.client_burst}; "
             "beyond that, HTTP 429 with Retry-After."]
    if access.key_source:
        lines.append(f"Service key: from {access.key_source}. /predict and /model need it "
                     "(header 'X-API-Key' or 'Authorization: Bearer'); the page asks for it once.")
    else:
        lines.append(f"Service key: none (store one as the Colab secret {API_KEY_ENV} to require it).")
    login, _ = find_login()
    if login:
        lines.append(f"Tunnel login: from {login.source}; ngrok asks for it before anything reaches this machine.")
    else:
        lines.append(f"Tunnel login: none (store user:password as the Colab secret {LOGIN_NAME} to require it).")
    return "\n".join(lines)
