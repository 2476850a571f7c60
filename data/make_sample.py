"""Draws the bundled IMDB sample from the official aclImdb_v1.tar.gz.

The sample keeps the official layout (train/{neg,pos}, test/{neg,pos}, file names
`<id>_<rating>.txt`) so the pipeline reads it exactly as it reads the full dataset.
Selection is deterministic: files are sorted by name and drawn with a fixed seed, so
re-running this script reproduces the committed sample byte for byte.

    python3 data/make_sample.py ../shared/data/aclImdb_v1.tar.gz data/imdb-sentiment
"""
import argparse
import pathlib
import random
import shutil
import tarfile

PER_CLASS = {"train": 1000, "test": 500}
CLASSES = ("neg", "pos")
SEED = 20111  # Maas et al., ACL 2011


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("archive", type=pathlib.Path)
  parser.add_argument("out_dir", type=pathlib.Path)
  args = parser.parse_args()

  with tarfile.open(args.archive, "r:gz") as tar:
    members = {m.name: m for m in tar.getmembers() if m.isfile()}
    chosen = []
    rng = random.Random(SEED)
    for split, n in PER_CLASS.items():
      for label in CLASSES:
        prefix = f"aclImdb/{split}/{label}/"
        names = sorted(k for k in members if k.startswith(prefix) and k.endswith(".txt"))
        chosen += rng.sample(names, n)
    if args.out_dir.exists():
      shutil.rmtree(args.out_dir)
    for name in chosen:
      target = args.out_dir / name.removeprefix("aclImdb/")
      target.parent.mkdir(parents=True, exist_ok=True)
      target.write_bytes(tar.extractfile(members[name]).read())
  print(f"wrote {len(chosen)} reviews to {args.out_dir}")


if __name__ == "__main__":
  main()
