"""Each command's work as one function: the CLI parses its arguments and calls one of these.

* ``inputs``: where the data set and the manifest come from (``--data``, ``--manifest``, ``--offline``);
* ``dataset``: ``manifest``;
* ``model``: ``train``, ``average``, ``views``, ``select``, ``finalize``, ``bundle``;
* ``reporting``: ``evaluate``, ``docs``, ``test-log``, ``measure-gate``;
* ``service``: ``serve``, ``calibrate-gate``.

Each function prints what a person at a terminal needs to know and returns the exit status.
"""
