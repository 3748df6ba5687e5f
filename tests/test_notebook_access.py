"""Notebook 06's access switches: the public limits, the key from a secret, the sentences it prints."""

from __future__ import annotations

import sys

import pytest

from pneumolib.notebook.access import PUBLIC_LIMITS, describe_access, public_settings
from pneumolib.notebook.tunnel import LOGIN_NAME
from pneumolib.serving.settings import API_KEY_ENV, ServiceSettings

KEY = "a-key-of-twenty-four-chars"


@pytest.fixture(autouse=True)
def not_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", None)
    for name in (API_KEY_ENV, LOGIN_NAME):
        monkeypatch.delenv(name, raising=False)


def test_without_secrets_only_the_limits_are_on():
    access = public_settings(ServiceSettings())
    assert access.key_source is None and access.request_headers() == {}
    for field, value in PUBLIC_LIMITS.items():
        assert getattr(access.settings, field) == value
    text = describe_access(access)
    assert "429" in text and f"Colab secret {API_KEY_ENV}" in text and f"Colab secret {LOGIN_NAME}" in text


def test_a_stored_key_and_login_are_used_and_never_printed(monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.setenv(LOGIN_NAME, "learner:long-enough-password")
    access = public_settings(ServiceSettings())
    assert access.settings.api_key == KEY and access.request_headers() == {"X-API-Key": KEY}
    text = describe_access(access)
    assert f"environment variable {API_KEY_ENV}" in text and "Tunnel login: from" in text
    assert KEY not in text and "long-enough-password" not in text
