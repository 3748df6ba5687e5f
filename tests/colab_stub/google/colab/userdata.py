"""``google.colab.userdata`` stand-in: secrets from ``COLAB_STUB_SECRETS`` (``NAME=value,...``)."""

import os


class SecretNotFoundError(Exception):
    pass


class NotebookAccessError(Exception):
    pass


def get(key):
    pairs = (item.split("=", 1) for item in os.environ.get("COLAB_STUB_SECRETS", "").split(",") if "=" in item)
    secrets = dict(pairs)
    if key not in secrets:
        raise SecretNotFoundError(key)
    return secrets[key]
