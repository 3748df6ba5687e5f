"""A stand-in for Colab's ``google.colab`` package, for running the notebooks as Colab would.

Only what the notebooks touch: ``drive.mount``, ``userdata.get`` and ``output.eval_js`` (the
kernel proxy). Each behaves as the environment variables below say, so one test run can take
Drive access and the next decline it, with or without secrets:

* ``COLAB_STUB_DRIVE``: ``accept`` (default; creates ``<mount point>/MyDrive``) or ``decline``
  (raises as Colab does when the learner refuses access);
* ``COLAB_STUB_SECRETS``: ``NAME=value`` pairs separated by commas (default: none);
* ``COLAB_STUB_PROXY``: the proxy URL pattern, ``{port}`` replaced (default ``https://{port}-colab-proxy.invalid/``).
"""

from google.colab import drive, output, userdata  # noqa: F401
