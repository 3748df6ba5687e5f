"""Documents generated from results: the README's and the model card's marked sections.

* ``documents``: which section gets which rendering, and rewriting them in place;
* ``markdown``: the results tables and sentences; ``training_card``, ``robustness_card``: the
  model card's training, selection and stress-val sections; ``references``: published results
  the tables compare with; ``markers``: finding and replacing a marked section.

Statistics are computed in :mod:`pneumolib.evaluation`; this package only writes them down.
"""
