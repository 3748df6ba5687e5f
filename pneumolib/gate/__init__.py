"""The not-a-chest-X-ray gate: is this upload like the films the model was trained on?

* ``mahalanobis``: :class:`MahalanobisGate`, a Mahalanobis distance on pooled backbone stages
  (what the service evaluates on every request);
* ``fit``: fitting it on training films and placing its threshold between shifted val films and
  reference non-X-rays (run by ``finalize``);
* ``reference_non_xrays``: the generated reference pictures (documents, photos, other scans).
"""
