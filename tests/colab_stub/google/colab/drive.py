"""``google.colab.drive`` stand-in: mount accepted or declined (``COLAB_STUB_DRIVE``)."""

import os


class MessageError(RuntimeError):
    """What Colab raises when the learner declines Drive access."""


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    if os.environ.get("COLAB_STUB_DRIVE", "accept") == "decline":
        raise MessageError("Error: credential propagation was unsuccessful")
    os.makedirs(os.path.join(mountpoint, "MyDrive"), exist_ok=True)
    print(f"Mounted at {mountpoint}")
