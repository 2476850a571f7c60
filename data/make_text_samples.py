"""Draws the bundled TREC and GoEmotions samples from the archives in ../shared/data.

    python3 data/make_text_samples.py ../shared/data/trec.tar.gz ../shared/data/goemotions.tar.gz

Deterministic (fixed seed). TREC: every 9th training question and every other test
question. GoEmotions: 2,000 train / 400 dev / 400 test comments, the train draw first
taking up to 12 comments per label so that every one of the 28 labels is trained on.
Provenance and licences: data/README.md.
"""
import csv
import io
import random
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _rows(tar: tarfile.TarFile, name: str) -> tuple[list, list]:
  member = next(m for m in tar.getmembers() if m.name.endswith(name))
  reader = csv.reader(io.TextIOWrapper(tar.extractfile(member), encoding="utf-8", newline=""))
  header = next(reader)
  return header, list(reader)


def _write(path: Path, header: list, rows: list) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def trec(archive: str) -> None:
  with tarfile.open(archive) as tar:
    header, train = _rows(tar, "trec/train.csv")
    _, test = _rows(tar, "trec/test.csv")
  _write(HERE / "trec" / "train.csv", header, train[::9])
  _write(HERE / "trec" / "test.csv", header, test[::2])


def goemotions(archive: str) -> None:
  rng = random.Random(20)
  with tarfile.open(archive) as tar:
    splits = {name: _rows(tar, f"goemotions/{name}.csv") for name in ("train", "dev", "test")}
  header, train = splits["train"]
  order = list(range(len(train)))
  rng.shuffle(order)
  chosen, per_label = [], {}
  for i in order:  # up to 12 comments per label first, then any
    labels = train[i][1].split("|")
    if any(per_label.get(label, 0) < 12 for label in labels):
      chosen.append(i)
      for label in labels:
        per_label[label] = per_label.get(label, 0) + 1
  rest = [i for i in order if i not in set(chosen)]
  chosen = sorted(chosen + rest[:2000 - len(chosen)])
  _write(HERE / "goemotions" / "train.csv", header, [train[i] for i in chosen])
  for name in ("dev", "test"):
    _, rows = splits[name]
    _write(HERE / "goemotions" / f"{name}.csv", header, sorted(rng.sample(rows, 400), key=rows.index))


if __name__ == "__main__":
  trec(sys.argv[1])
  goemotions(sys.argv[2])
