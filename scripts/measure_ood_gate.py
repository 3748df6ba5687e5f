"""How the "not a chest X-ray" gate does: share of test X-rays it passes, of non-X-rays it rejects.

Both go through the service's own path (decode_upload, canonical preprocessing, features, gate).
Goals: pass >= 99 % of the official test X-rays, reject >= 95 % of tests/fixtures/not_xray.

    python scripts/measure_ood_gate.py [--checkpoint FILE] [--data DIR]

Reading the test split is a look at it: it is recorded in the test-split access log
(``$PNEUMO_TEST_LOG``, else the work folder's log).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pneumolib.checkpoint import find_checkpoint
from pneumolib.data.locate import find_dataset_root
from pneumolib.data.manifest import load_manifest
from pneumolib.evaluation.test_access import record_test_access
from pneumolib.decode.upload import decode_upload
from pneumolib.decode.errors import NotAChestXray, UploadError
from pneumolib.serving.predictor import Predictor

NOT_XRAY = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "not_xray"


def distance_ratio(predictor: Predictor, path: Path) -> float | None:
    """The file's gate distance over the threshold (<= 1 passes), or None when undecodable."""
    try:
        gate = predictor.predict(decode_upload(path.read_bytes(), path.name), allow_non_xray=True).gate
    except NotAChestXray:  # non-finite features: refused even with the override
        return float("inf")
    except UploadError:
        return None
    return gate.distance / gate.threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--data")
    args = parser.parse_args()
    checkpoint, source = find_checkpoint(args.checkpoint)
    predictor = Predictor.load(checkpoint)
    print(f"model {checkpoint.name} ({source})")

    root = find_dataset_root(args.data, download=False)
    test = load_manifest().query("split == 'test'")
    xray = [distance_ratio(predictor, root / p) for p in tqdm(test["path"], desc="test X-rays")]
    log = record_test_access(checkpoint, "measure_ood_gate: share of test X-rays the gate passes", len(xray))
    print(f"this look at the test split is recorded in {log}")
    others = sorted(p for p in NOT_XRAY.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".dcm"})
    other = [distance_ratio(predictor, p) for p in tqdm(others, desc="non-X-rays")]
    passed = [r is not None and r <= 1 for r in xray]
    decodable = [(p, r) for p, r in zip(others, other) if r is not None]
    refused = [p.name for p, r in decodable if r > 1]
    let_through = [p.name for p, r in decodable if r <= 1]
    print(f"test X-rays passed: {sum(passed)}/{len(xray)} = {sum(passed) / len(xray):.1%} (goal >= 99 %)")
    print(f"non-X-rays rejected: {len(refused)}/{len(decodable)} = {len(refused) / max(1, len(decodable)):.1%} (goal >= 95 %)")
    ratios = np.array([r for r in xray if r is not None])
    print(f"distance / threshold: test X-rays median {np.median(ratios):.2f}, 99th percentile "
          f"{np.quantile(ratios, 0.99):.2f}, largest {ratios.max():.2f}; non-X-rays smallest "
          f"{min(r for _, r in decodable):.2f} ({min(decodable, key=lambda pr: pr[1])[0].name})")
    print("non-X-rays let through:", ", ".join(let_through) or "none")
    rejected_xrays = [p for p, ok in zip(test["path"], passed) if not ok]
    print("test X-rays refused:", ", ".join(rejected_xrays) or "none")


if __name__ == "__main__":
    main()
