"""Where a command's data comes from: the data set folder, the manifest, and whether to download."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from pneumolib.data.sources.roots import DataRoot


@dataclass(frozen=True)
class DataInputs:
    """``--data`` (else ``$PNEUMO_DATA_DIR``, else a kagglehub download), ``--manifest`` and ``--offline``."""

    data: str | None = None
    manifest: str | None = None
    offline: bool = False

    def root(self) -> DataRoot:
        """The Kermany folder, plus the extra sources' folders when the manifest has any."""
        from pneumolib.data.release.locate import find_dataset_root
        from pneumolib.data.sources.roots import data_roots
        from pneumolib.data.split.manifest import default_manifest_path

        return data_roots(find_dataset_root(self.data, download=not self.offline), self.manifest or default_manifest_path())

    def table(self) -> pd.DataFrame:
        """The manifest (default: the committed one)."""
        from pneumolib.data.split.manifest import load_manifest

        return load_manifest(self.manifest)
