"""Turning a chosen training checkpoint into one a service can answer with.

* ``finalize``: the only place the temperature, the operating points and the gate are fitted
  (on val, stress val and the training films; never the test split);
* ``site_calibration``: re-placing the gate's threshold for another hospital's films.
"""
