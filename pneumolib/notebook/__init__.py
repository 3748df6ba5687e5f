"""Helpers the notebooks use around the package: Colab storage, a background server, a tunnel.

* ``colab``: mounting Google Drive and saying where the work lives;
* ``background``: the API in a background thread, so a notebook stays usable;
* ``tunnel``: a public ngrok address for that server (token from a Colab secret or the environment).
"""
