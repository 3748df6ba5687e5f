"""``manifest``: hash, deduplicate and split the data set, and write the manifest with its side tables."""

from __future__ import annotations

import sys
from pathlib import Path


def build_manifest_files(data: str | None = None, out: str | None = None, *, extra: list[str] | None = None,
                         roles: list[str] | None = None, max_per_folder: int | None = None, offline: bool = False,
                         resplit: bool = False, workers: int | None = None) -> int:
    """Build the manifest and write it (default: a clone's ``data_manifest.csv``), its problems and sources.

    With extra sources and no ``out``, the result goes to ``data_manifest_with_sources.csv``: the
    committed file stays the Kermany reference.
    """
    from pneumolib.data.sources.roots import extra_sources
    from pneumolib.data.sources.split import describe_cross_source
    from pneumolib.data.split.manifest import (
        build_manifest,
        default_manifest_path,
        load_manifest,
        manifest_output_path,
        refresh_packaged_manifest,
        write_manifest,
    )

    try:
        extras = extra_sources(extra or [], roles)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    committed = default_manifest_path()
    reference = load_manifest(committed) if committed.is_file() else None
    build = build_manifest(data, extras=extras, max_per_folder=max_per_folder, download=not offline,
                           reference=None if resplit else reference, workers=workers)
    default_out = manifest_output_path()
    path = Path(out) if out else default_out
    if extras and path.resolve() == default_out.resolve():
        path = path.with_name("data_manifest_with_sources.csv")
    write_manifest(build.manifest, path, extras)
    packaged = refresh_packaged_manifest(path)
    if packaged is not None:
        print(f"copied it to {packaged}, the reference split the package ships")
    if len(build.problems):
        problems = path.with_name(path.stem + "_problems.csv")
        build.problems.to_csv(problems, index=False)
        print(f"{len(build.problems)} files left out or flagged: see {problems}")
    counts = build.manifest.groupby(["split", "label"]).size().unstack(fill_value=0)
    print(f"dataset: {build.root}\n{counts}\n{len(build.duplicate_pairs)} duplicate pairs\nwrote {path}")
    if extras:
        print(f"images per source and split:\n{build.source_summary()}")
        print(describe_cross_source(build.cross_source))
        if len(build.cross_source):
            table = path.with_name(path.stem + "_cross_source_duplicates.csv")
            build.cross_source.to_csv(table, index=False)
            print(f"every cross-source duplicate and where it went: {table}")
    if reference is not None and path.resolve() != committed.resolve():
        from pneumolib.data.split.leakage import split_agreement

        print(f"agreement with the committed split ({committed.name}):\n{split_agreement(build.manifest, reference)}")
    return 0
