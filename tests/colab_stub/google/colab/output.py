"""``google.colab.output`` stand-in: the kernel proxy's URL for a port (``COLAB_STUB_PROXY``)."""

import os
import re


def eval_js(script, ignore_result=False, timeout_sec=None):
    match = re.fullmatch(r"google\.colab\.kernel\.proxyPort\((\d+)\)", script.strip())
    if not match:
        raise NotImplementedError(f"the Colab stand-in does not run {script!r}")
    return os.environ.get("COLAB_STUB_PROXY", "https://{port}-colab-proxy.invalid/").format(port=match[1])


def serve_kernel_port_as_window(port, path="/", anchor_text=None):
    print(f"(Colab would open {eval_js(f'google.colab.kernel.proxyPort({port})')}{path.lstrip('/')})")
