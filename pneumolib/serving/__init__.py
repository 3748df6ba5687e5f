"""Serving helpers: decode uploads safely, refuse what is not a chest X-ray, explain errors.

Kept free of web-framework and deep-learning imports so the decoding and error modules can be
used and tested on their own; the FastAPI app imports what it needs from the submodules.
"""
