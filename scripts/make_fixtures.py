"""Build the small fixture set under tests/fixtures/chest_xray from a full copy of the dataset.

The fixtures are real images from the Kermany et al. 2018 release (CC BY 4.0), downscaled so the
shorter side is 128 px, in the release's folder layout, chosen to cover what the tests need:
both labels and subtypes, both source forms, patients with several films, an exact duplicate
pair within train, an exact duplicate pair across two patient ids in test, and a patient id
present in both the training and the test split.

Usage: python scripts/make_fixtures.py ../shared/data/chest_xray
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from PIL import Image

FIXTURE_FILES = [
    # train, NORMAL: original form (IM-0439 and IM-0505 have two films each) and 224x224 copies
    "train/NORMAL/IM-0117-0001.jpeg", "train/NORMAL/IM-0340-0001.jpeg",
    "train/NORMAL/IM-0439-0001.jpeg", "train/NORMAL/IM-0439-0001-0002.jpeg",
    "train/NORMAL/IM-0505-0001-0001.jpeg", "train/NORMAL/IM-0505-0001-0002.jpeg",
    "train/NORMAL/IM-0115-0001.jpeg", "train/NORMAL/IM-0241-0001.jpeg",
    "train/NORMAL/IM-0332-0001.jpeg", "train/NORMAL/NORMAL2-IM-0587-0001-0001.jpeg",
    "train/NORMAL/NORMAL2-IM-0587-0001-0002.jpeg",
    # train, PNEUMONIA: bacterial and viral, both forms; person124's two files are exact copies;
    # person1 also has films in the official test split
    "train/PNEUMONIA/person1003_virus_1685.jpeg", "train/PNEUMONIA/person1087_bacteria_3027.jpeg",
    "train/PNEUMONIA/person1180_bacteria_3128.jpeg", "train/PNEUMONIA/person1000_bacteria_2931.jpeg",
    "train/PNEUMONIA/person1046_virus_1742.jpeg", "train/PNEUMONIA/person1085_virus_1797.jpeg",
    "train/PNEUMONIA/person124_virus_246.jpeg", "train/PNEUMONIA/person124_virus_247.jpeg",
    "train/PNEUMONIA/person1_bacteria_1.jpeg", "train/PNEUMONIA/person1_bacteria_2.jpeg",
    "train/PNEUMONIA/person1004_bacteria_2935.jpeg", "train/PNEUMONIA/person1008_virus_1691.jpeg",
    # official val (folded back into training by the project's split)
    "val/NORMAL/NORMAL2-IM-1427-0001.jpeg", "val/NORMAL/NORMAL2-IM-1430-0001.jpeg",
    "val/PNEUMONIA/person1946_bacteria_4874.jpeg", "val/PNEUMONIA/person1946_bacteria_4875.jpeg",
    # official test; NORMAL2-IM-0095 and -0096 are exact copies under two patient ids
    "test/NORMAL/IM-0001-0001.jpeg", "test/NORMAL/IM-0039-0001.jpeg", "test/NORMAL/IM-0099-0001.jpeg",
    "test/NORMAL/NORMAL2-IM-0079-0001.jpeg", "test/NORMAL/NORMAL2-IM-0095-0001.jpeg",
    "test/NORMAL/NORMAL2-IM-0096-0001.jpeg",
    "test/PNEUMONIA/person1_virus_6.jpeg", "test/PNEUMONIA/person100_bacteria_475.jpeg",
    "test/PNEUMONIA/person10_virus_35.jpeg", "test/PNEUMONIA/person121_bacteria_575.jpeg",
    "test/PNEUMONIA/person130_bacteria_626.jpeg", "test/PNEUMONIA/person139_bacteria_665.jpeg",
]
SHORT_SIDE = 128


def main(source_root: Path, target_root: Path) -> None:
    source_manifest = pd.read_csv(source_root / "MANIFEST.csv")
    prefix = "chest_xray/"
    rows = []
    for rel in FIXTURE_FILES:
        with Image.open(source_root / rel) as image:
            image = image.convert("L")
            scale = SHORT_SIDE / min(image.size)
            if scale < 1:
                image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
            out = target_root / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            image.save(out, quality=85)
        rows.append(source_manifest[source_manifest["path"] == prefix + rel])
    table = pd.concat(rows)[["path", "split", "label", "source_form"]]
    table.to_csv(target_root / "MANIFEST.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "chest_xray")
