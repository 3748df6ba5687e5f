"""The data set, by concern.

* ``release``: finding the Kermany release on disk (or downloading it) and reading its files.
* ``duplicates``: hashing images and finding exact and near duplicates.
* ``split``: the manifest (one row per image) and the patient-level split, with its leakage checks.
* ``sources``: labelled sources beyond the release, and how they join the split.
* ``inputs``: images as the model sees them (preprocessing, cache, arrays, augmentation, shifts).
* ``figures``: the plots of notebooks 01 and 02.
"""
