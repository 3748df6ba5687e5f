"""How the "not a chest X-ray" gate does: share of test X-rays it passes, of non-X-rays it rejects.

Both go through the service's own path (decode_upload, canonical preprocessing, features, gate).
Goals: pass >= 99 % of the official test X-rays, reject >= 95 % of tests/fixtures/not_xray.

    python scripts/measure_ood_gate.py [--checkpoint FILE] [--data DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from pneumolib.checkpoint import find_checkpoint
from pneumolib.data.locate import find_dataset_root
from pneumolib.data.manifest import load_manifest
from pneumolib.serving.decode import decode_upload
from pneumolib.serving.errors import NotAChestXray, UploadError
from pneumolib.serving.predictor import Predictor

NOT_XRAY = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "not_xray"


def passes(predictor: Predictor, path: Path) -> bool | None:
    """True when the gate lets the file through, False when it refuses, None when undecodable."""
    try:
        predictor.predict(decode_upload(path.read_bytes(), path.name))
    except NotAChestXray:
        return False
    except UploadError:
        return None
    return True


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
    xray = [passes(predictor, root / p) for p in tqdm(test["path"], desc="test X-rays")]
    others = sorted(p for p in NOT_XRAY.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".dcm"})
    other = [passes(predictor, p) for p in tqdm(others, desc="non-X-rays")]
    refused = [p.name for p, ok in zip(others, other) if ok is False]
    let_through = [p.name for p, ok in zip(others, other) if ok]
    print(f"test X-rays passed: {sum(x is True for x in xray)}/{len(xray)} = {sum(x is True for x in xray) / len(xray):.1%} (goal >= 99 %)")
    decodable = [o for o in other if o is not None]
    print(f"non-X-rays rejected: {len(refused)}/{len(decodable)} = {len(refused) / max(1, len(decodable)):.1%} (goal >= 95 %)")
    print("non-X-rays let through:", ", ".join(let_through) or "none")
    rejected_xrays = [p for p, ok in zip(test["path"], xray) if ok is False]
    print("test X-rays refused:", ", ".join(rejected_xrays) or "none")


if __name__ == "__main__":
    main()
