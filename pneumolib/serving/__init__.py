"""The HTTP service: FastAPI app, request handling, the predictor, the served model description.

Uploads are decoded by :mod:`pneumolib.decode` and gated by :mod:`pneumolib.gate`; this package
adds only what is about HTTP and answering requests.
"""
