"""The ASGI entry point: ``uvicorn pneumolib.serving.asgi:app``.

Creating the app loads nothing; the checkpoint (``$PNEUMO_CHECKPOINT``, else the work folder's
trained model, else the bundled one) is loaded when the server starts.
"""

from __future__ import annotations

from pneumolib.serving.app import create_app

app = create_app(load_in_background=True)  # a server: answer /health while the model loads
