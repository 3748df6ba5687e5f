"""A public HTTPS address for a local server, through ngrok, when an ngrok token is available.

Colab runs the notebook on a machine you cannot reach from your browser; an ngrok tunnel gives
the background server a temporary public URL (``https://<random>.ngrok-free.app``), so the web
page and ``curl`` work from anywhere. The tunnel needs a free ngrok account's authtoken:

* in Colab, a **secret** named ``NGROK_AUTHTOKEN`` (key icon in the left bar; allow the notebook
  to read it), read with ``google.colab.userdata``;
* elsewhere, the environment variable ``NGROK_AUTHTOKEN``.

Without a token, or when ngrok refuses it, :func:`open_tunnel` says so in one plain sentence and
returns None: the server keeps serving locally, and nothing else breaks. The token never
appears in any message.

Without a login, anyone with the public URL can use the service while the tunnel is open. A
**login** (``user:password``, the Colab secret or environment variable ``PNEUMO_TUNNEL_LOGIN``, or
``login=``) makes ngrok ask for it (HTTP basic auth, ngrok's ``basic-auth`` traffic-policy action)
before a request reaches this machine; the browser asks once and remembers it for the tab.
Close the tunnel (:meth:`Tunnel.close`) when you are done.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from pneumolib import environment

logger = logging.getLogger(__name__)

TOKEN_NAME = "NGROK_AUTHTOKEN"
LOGIN_NAME = environment.TUNNEL_LOGIN
MIN_PASSWORD = 8  # ngrok's basic-auth action refuses shorter passwords
TOKEN_HELP = ("Get a free authtoken at https://dashboard.ngrok.com/get-started/your-authtoken and store it as the "
              f"Colab secret {TOKEN_NAME} (key icon, left bar; allow notebook access) or in the environment "
              f"variable {TOKEN_NAME}.")
BAD_TOKEN_CODES = ("ERR_NGROK_105", "ERR_NGROK_106", "ERR_NGROK_107", "ERR_NGROK_4018")
TOO_MANY_SESSIONS_CODE = "ERR_NGROK_108"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)
    source: str
    """Where it came from, for messages: "the Colab secret NGROK_AUTHTOKEN" or "the environment variable ..."."""


def find_token(environ: dict[str, str] | None = None) -> tuple[Token | None, str | None]:
    """The ngrok token: the Colab secret first, then the environment variable.

    Returns (token or None, a note explaining why the Colab secret could not be used, or None).
    """
    return find_secret(TOKEN_NAME, environ)


def find_login(environ: dict[str, str] | None = None) -> tuple[Token | None, str | None]:
    """The tunnel's ``user:password`` (``PNEUMO_TUNNEL_LOGIN``), looked for like the token."""
    return find_secret(LOGIN_NAME, environ)


def find_secret(name: str, environ: dict[str, str] | None = None) -> tuple[Token | None, str | None]:
    """A Colab secret ``name``, else the environment variable ``name``; with a note when Colab refused it."""
    note = None
    try:
        from google.colab import userdata  # type: ignore[import-not-found]
    except ImportError:  # not in Colab
        userdata = None
    if userdata is not None:
        try:
            value = userdata.get(name)
        except Exception as error:  # noqa: BLE001 - Colab raises its own classes for each case
            note = _colab_secret_problem(error, name)
        else:
            if value and str(value).strip():
                return Token(str(value).strip(), f"the Colab secret {name}"), None
    if name in environment.VARIABLES:
        value = environment.read(name, environ) or ""
    else:  # another tool's variable (NGROK_AUTHTOKEN)
        value = (os.environ if environ is None else environ).get(name, "").strip()
    if value:
        return Token(value, f"the environment variable {name}"), note
    return None, note


def login_problem(login: str) -> str | None:
    """Why ``login`` cannot be the tunnel's ``user:password``, or None when it can."""
    user, colon, password = login.partition(":")
    if not colon or not user.strip() or not password:
        return f"{LOGIN_NAME} must look like user:password."
    if len(password) < MIN_PASSWORD:
        return f"The password in {LOGIN_NAME} must have at least {MIN_PASSWORD} characters (ngrok's rule)."
    return None


def basic_auth_policy(login: str) -> dict[str, Any]:
    """ngrok's traffic policy that asks every request for ``login`` (HTTP basic auth)."""
    return {"on_http_request": [{"actions": [{"type": "basic-auth",
                                              "config": {"realm": "pneumolib", "credentials": [login]}}]}]}


def _colab_secret_problem(error: Exception, name: str = TOKEN_NAME) -> str | None:
    kind = type(error).__name__
    if kind == "SecretNotFoundError":
        return None  # simply not set: the usual case, the general advice covers it
    if kind == "NotebookAccessError":
        return (f"The Colab secret {name} exists but this notebook may not read it: open the key icon in "
                "the left bar and switch on 'Notebook access' for it.")
    return f"The Colab secret {name} could not be read ({kind})."


@dataclass
class Tunnel:
    """An open ngrok tunnel to ``local_url``; :meth:`close` it (or use it in a ``with`` block)."""

    public_url: str
    local_url: str
    token_source: str
    _config: Any = field(default=None, repr=False)
    login_source: str | None = None
    """Where the tunnel's login came from; None: the tunnel is open to anyone with the URL."""
    closed: bool = False

    def close(self, say: Say | None = print) -> None:
        """Close the tunnel and stop the ngrok agent; safe to call twice, never raises."""
        if self.closed:
            return
        self.closed = True
        from pyngrok import ngrok
        from pyngrok.exception import PyngrokError

        try:
            ngrok.disconnect(self.public_url, pyngrok_config=self._config)
        except PyngrokError as error:
            logger.debug("ngrok disconnect failed", exc_info=True)
            if say:
                say(f"Note: ngrok did not confirm closing {self.public_url} ({_first_line(error)}); stopping the agent anyway.")
        try:
            ngrok.kill(pyngrok_config=self._config)
        except PyngrokError:  # already gone: nothing left to stop
            logger.debug("ngrok kill failed", exc_info=True)
        if say:
            say(f"Tunnel closed: {self.public_url} no longer reaches this machine.")

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def open_tunnel(port: int, token: str | None = None, *, host: str = "127.0.0.1", say: Say | None = print,
                region: str | None = None, login: str | None = None) -> Tunnel | None:
    """Open an HTTPS tunnel to ``http://host:port``, or return None and say why the service stays local.

    ``token`` overrides the search of :func:`find_token`, ``login`` (``user:password``) that of
    :func:`find_login`. Every failure (no token, a refused token, a malformed login, ngrok not
    downloadable, no network) is reported through ``say`` in plain words, never raised.
    """
    local_url = f"http://{host}:{port}"
    say = say or (lambda message: None)
    found, note = (Token(token.strip(), "the token passed in"), None) if token and token.strip() else find_token()
    if found is None:
        say(" ".join(filter(None, [note, f"No ngrok token found: serving locally only, at {local_url}.", TOKEN_HELP])))
        return None
    credentials, login_note = (Token(login.strip(), "the login passed in"), None) if login and login.strip() else find_login()
    problem = login_problem(credentials.value) if credentials is not None else None
    if problem:
        say(f"{problem} No tunnel was opened: serving locally only, at {local_url}.")
        return None
    try:
        from pyngrok import conf, ngrok
        from pyngrok.exception import PyngrokError
    except ImportError:
        say(f"pyngrok is not installed (pip install pyngrok): serving locally only, at {local_url}.")
        return None
    config = conf.PyngrokConfig(auth_token=found.value, region=region)
    options = {"traffic_policy": basic_auth_policy(credentials.value)} if credentials is not None else {}
    try:
        tunnel = ngrok.connect(local_url, "http", pyngrok_config=config, **options)
    except (PyngrokError, OSError) as error:  # OSError: the agent binary could not be run or saved
        logger.debug("ngrok failed", exc_info=True)
        message = explain_failure(error, found)
        if credentials is not None:
            message = message.replace(credentials.value, "***")
        say(f"{message} Serving locally only, at {local_url}.")
        _stop_agent(config)
        return None
    public_url = str(tunnel.public_url)
    if public_url.startswith("http://"):
        public_url = "https://" + public_url[len("http://"):]  # ngrok serves both; prefer the encrypted one
    if credentials is None:
        who = " ".join(filter(None, [login_note, "Anyone with this URL can use the service until the tunnel is closed "
                                     f"(to require a login, store user:password as the Colab secret {LOGIN_NAME})."]))
    else:
        who = (f"ngrok asks every visitor for the user name and password in {credentials.source} before a request "
               "reaches this machine.")
    say(f"Public URL (ngrok, token from {found.source}): {public_url}\n{who} Not for patient data: this is not a "
        "diagnostic tool.")
    return Tunnel(public_url, local_url, found.source, config, login_source=credentials.source if credentials else None)


def explain_failure(error: Exception, token: Token) -> str:
    """One or two plain sentences for a pyngrok error; the token itself is never included."""
    from pyngrok.exception import PyngrokNgrokInstallError

    text = " ".join(str(part) for part in (error, getattr(error, "ngrok_error", None) or "",
                                           getattr(error, "body", None) or "") if part)
    text = text.replace(token.value, "***")
    lowered = text.lower()
    code = next((c for c in (*BAD_TOKEN_CODES, TOO_MANY_SESSIONS_CODE) if c in text), None)
    if code in BAD_TOKEN_CODES or "authtoken" in lowered or "authentication failed" in lowered:
        return (f"ngrok refused the token from {token.source}{f' ({code})' if code else ''}: it is not a "
                "valid authtoken. Copy it again from https://dashboard.ngrok.com/get-started/your-authtoken "
                "(the authtoken, not an API key) and store it again.")
    if code == TOO_MANY_SESSIONS_CODE or "simultaneous" in lowered:
        return ("ngrok allows a free account one agent at a time, and one is already running with this token "
                "(another notebook or machine?). Stop it (https://dashboard.ngrok.com/agents) and try again.")
    if isinstance(error, PyngrokNgrokInstallError):
        return f"The ngrok agent could not be downloaded; is there internet access? ({_first_line(text)})"
    return f"ngrok could not open a tunnel: {_first_line(text)}"


def _first_line(error: object, limit: int = 200) -> str:
    line = str(error).strip().splitlines()[0] if str(error).strip() else "no details"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _stop_agent(config: Any) -> None:
    """After a failed start, leave no half-started ngrok agent behind."""
    try:
        from pyngrok import ngrok

        ngrok.kill(pyngrok_config=config)
    except Exception:  # noqa: BLE001 - nothing was running
        logger.debug("ngrok kill after failure", exc_info=True)
