"""The ngrok tunnel helper, with pyngrok's functions replaced: no network, no ngrok download.

Checks where the token is looked for (Colab secret first, then the environment), what happens
without one (serving locally only), that ngrok's failures become one plain sentence that never
contains the token, and that closing disconnects and stops the agent.
"""

from __future__ import annotations

import sys
import types

import pytest
from pyngrok import ngrok
from pyngrok.exception import PyngrokNgrokError, PyngrokNgrokHTTPError, PyngrokNgrokInstallError

import pneumolib.notebook.tunnel as tunnels
from pneumolib.notebook.tunnel import LOGIN_NAME, TOKEN_NAME, find_token, open_tunnel

TOKEN = "2abcDEFghiJKLmnoPQRstu_1234567890vwxYZ"


class FakeNgrok:
    """Stands in for pyngrok.ngrok's connect / disconnect / kill and records the calls."""

    def __init__(self, error: Exception | None = None, public_url: str = "http://abc123.ngrok-free.app") -> None:
        self.error, self.public_url = error, public_url
        self.connected: list[tuple[tuple, dict]] = []
        self.disconnected: list[str] = []
        self.killed = 0

    def connect(self, *args, **kwargs):
        self.connected.append((args, kwargs))
        if self.error is not None:
            raise self.error
        return types.SimpleNamespace(public_url=self.public_url)

    def disconnect(self, public_url, pyngrok_config=None):
        self.disconnected.append(public_url)

    def kill(self, pyngrok_config=None):
        self.killed += 1


@pytest.fixture
def fake(monkeypatch):
    fake = FakeNgrok()
    for name in ("connect", "disconnect", "kill"):
        monkeypatch.setattr(ngrok, name, getattr(fake, name))
    return fake


@pytest.fixture
def not_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", None)  # `from google.colab import ...` -> ImportError
    monkeypatch.delenv(TOKEN_NAME, raising=False)
    monkeypatch.delenv(LOGIN_NAME, raising=False)


def colab_secret(monkeypatch, value: str | None = None, error: str | None = None, login: str | None = None) -> None:
    """Pretend to run in Colab, with ``userdata.get`` returning ``value`` or raising a class named ``error``."""
    def get(name: str) -> str:
        if name == LOGIN_NAME:
            if login is None:
                raise type("SecretNotFoundError", (Exception,), {})(name)
            return login
        assert name == TOKEN_NAME
        if error:
            raise type(error, (Exception,), {})(name)
        return value

    userdata = types.ModuleType("google.colab.userdata")
    userdata.get = get
    colab = types.ModuleType("google.colab")
    colab.userdata = userdata
    monkeypatch.setitem(sys.modules, "google", sys.modules.get("google") or types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.userdata", userdata)
    monkeypatch.delenv(TOKEN_NAME, raising=False)
    monkeypatch.delenv(LOGIN_NAME, raising=False)


def test_no_token_serves_locally(fake, not_colab) -> None:
    messages: list[str] = []
    assert open_tunnel(8000, say=messages.append) is None
    assert not fake.connected
    (message,) = messages
    assert "serving locally only" in message and "http://127.0.0.1:8000" in message
    assert TOKEN_NAME in message and "dashboard.ngrok.com" in message


def test_token_from_the_environment_opens_an_https_tunnel(fake, not_colab, monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_NAME, f"  {TOKEN}\n")
    messages: list[str] = []
    opened = open_tunnel(8123, say=messages.append)
    assert opened is not None
    assert opened.public_url == "https://abc123.ngrok-free.app"
    assert opened.local_url == "http://127.0.0.1:8123"
    (args, kwargs), = fake.connected
    assert args == ("http://127.0.0.1:8123", "http")
    assert kwargs["pyngrok_config"].auth_token == TOKEN  # passed to this agent only, stripped
    assert "environment variable" in messages[0] and opened.public_url in messages[0]
    assert TOKEN not in "".join(messages) and TOKEN not in repr(opened)

    opened.close(say=messages.append)
    assert fake.disconnected == ["https://abc123.ngrok-free.app"] and fake.killed == 1
    assert "closed" in messages[-1]
    opened.close(say=messages.append)  # twice: nothing more happens
    assert fake.killed == 1 and opened.closed


def test_explicit_token_and_context_manager(fake, not_colab) -> None:
    with open_tunnel(9000, token=TOKEN, say=None) as opened:
        assert opened.token_source == "the token passed in"
    assert opened.closed and fake.killed == 1


def test_colab_secret_wins_over_the_environment(fake, monkeypatch) -> None:
    colab_secret(monkeypatch, value="colab-token")
    monkeypatch.setenv(TOKEN_NAME, "environment-token")
    token, note = find_token()
    assert token.value == "colab-token" and "Colab secret" in token.source and note is None
    opened = open_tunnel(8000, say=None)
    assert fake.connected[0][1]["pyngrok_config"].auth_token == "colab-token"
    assert opened.token_source == f"the Colab secret {TOKEN_NAME}"


def test_missing_colab_secret_falls_back_to_the_environment(fake, monkeypatch) -> None:
    colab_secret(monkeypatch, error="SecretNotFoundError")
    monkeypatch.setenv(TOKEN_NAME, "environment-token")
    token, note = find_token()
    assert token.value == "environment-token" and note is None


def test_colab_secret_without_notebook_access_is_explained(fake, monkeypatch) -> None:
    colab_secret(monkeypatch, error="NotebookAccessError")
    messages: list[str] = []
    assert open_tunnel(8000, say=messages.append) is None
    assert "Notebook access" in messages[0] and "serving locally only" in messages[0]
    assert not fake.connected


def test_empty_colab_secret_counts_as_none(fake, monkeypatch) -> None:
    colab_secret(monkeypatch, value="   ")
    assert find_token() == (None, None)


@pytest.mark.parametrize("error, words", [
    (PyngrokNgrokError(f"The ngrok process errored on start: authentication failed: The authtoken you "
                       f"specified does not look like a proper ngrok authtoken. token={TOKEN}",
                       ngrok_error="ERR_NGROK_105"), ("refused the token", "ERR_NGROK_105", "environment variable")),
    (PyngrokNgrokHTTPError("ngrok client exception, API returned 502", "http://127.0.0.1:4040/api/endpoints", 502,
                           "Bad Gateway", {}, '{"msg": "failed to start tunnel", "details": {"err": '
                           '"authentication failed: Your authtoken is invalid. ERR_NGROK_107"}}'),
     ("refused the token", "ERR_NGROK_107")),
    (PyngrokNgrokError("The ngrok process errored on start: Your account is limited to 1 simultaneous ngrok "
                       "agent sessions.", ngrok_error="ERR_NGROK_108"), ("one agent at a time",)),
    (PyngrokNgrokInstallError("An error occurred while downloading ngrok from https://bin.equinox.io: "
                              "<urlopen error [Errno -3] Temporary failure in name resolution>"),
     ("could not be downloaded", "internet")),
    (PyngrokNgrokError("The ngrok process was unable to start."), ("could not open a tunnel", "unable to start")),
], ids=["bad-token", "bad-token-http", "second-agent", "no-download", "other"])
def test_ngrok_failures_are_one_plain_message(fake, not_colab, monkeypatch, error, words) -> None:
    monkeypatch.setenv(TOKEN_NAME, TOKEN)
    fake.error = error
    messages: list[str] = []
    assert open_tunnel(8000, say=messages.append) is None
    (message,) = messages
    for word in words:
        assert word in message, message
    assert "serving locally only" in message.lower()
    assert TOKEN not in message and "Traceback" not in message
    assert fake.killed == 1  # no half-started agent is left behind


def test_close_survives_ngrok_errors(fake, not_colab, monkeypatch) -> None:
    opened = open_tunnel(8000, token=TOKEN, say=None)

    def broken(*args, **kwargs):
        raise PyngrokNgrokError("ngrok is not running")

    monkeypatch.setattr(ngrok, "disconnect", broken)
    monkeypatch.setattr(ngrok, "kill", broken)
    messages: list[str] = []
    opened.close(say=messages.append)
    assert opened.closed and "did not confirm" in messages[0] and "closed" in messages[-1]


def test_module_docs_name_the_secret() -> None:
    assert TOKEN_NAME in tunnels.__doc__ and "google.colab" in tunnels.__doc__


def test_without_a_login_the_message_says_anyone_can_use_it(fake, not_colab) -> None:
    messages: list[str] = []
    opened = open_tunnel(8000, token=TOKEN, say=messages.append)
    assert opened.login_source is None and "traffic_policy" not in fake.connected[0][1]
    assert "Anyone with this URL" in messages[0] and LOGIN_NAME in messages[0]


def test_a_login_from_the_colab_secret_puts_basic_auth_on_the_tunnel(fake, monkeypatch) -> None:
    login = "learner:correct-horse-battery"
    colab_secret(monkeypatch, TOKEN, login=login)
    messages: list[str] = []
    opened = open_tunnel(8000, say=messages.append)
    assert opened.login_source == f"the Colab secret {LOGIN_NAME}"
    (_, kwargs), = fake.connected
    (rule,) = kwargs["traffic_policy"]["on_http_request"]
    assert rule["actions"] == [{"type": "basic-auth", "config": {"realm": "pneumolib", "credentials": [login]}}]
    assert "asks every visitor" in messages[0] and "Anyone with this URL" not in messages[0]
    assert "correct-horse" not in "".join(messages) and "correct-horse" not in repr(opened)


@pytest.mark.parametrize("login,words", [("no-colon-here", "user:password"), ("learner:short", "at least 8")])
def test_a_malformed_login_opens_no_tunnel(fake, not_colab, monkeypatch, login, words) -> None:
    monkeypatch.setenv(LOGIN_NAME, login)
    messages: list[str] = []
    assert open_tunnel(8000, token=TOKEN, say=messages.append) is None
    assert not fake.connected and words in messages[0] and "serving locally only" in messages[0]
