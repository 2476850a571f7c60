"""How fast the frozen encoders embed: texts/s on the shared TREC and GoEmotions train
files (1,000 texts each, shuffled with seed 0, in batches of 64), embedded as the Trainer's
frozen path embeds them (models/model.py: embed_once; --in-map: inside tf.data's map, as
it did before), appended to benchmarks/encoder_speed_results.md.

    make bench-encoders                                   # minilm-l6-encoder, use-multilingual-v3
    make bench-encoders ARGS="--handles /path/to/an/older/build --texts 500"

A handle is a registered name or a local SavedModel (an older build in the cache, to
compare before and after a change). Time it alone: on 2 cores a second heavy job
inflates every figure.
"""
import argparse
import csv
import datetime
import random
import sys
import tarfile
import time

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  the modules' tokenizer ops

from benchmarks.pipeline_bench import machine
from models import model as model_lib
from models.embeddings import handles
from pipeline.config import REPO_ROOT

RESULTS = REPO_ROOT / "benchmarks" / "encoder_speed_results.md"
SHARED = REPO_ROOT.parent / "shared" / "data"
SOURCES = {"TREC": (SHARED / "trec.tar.gz", "trec/train.csv"),
           "GoEmotions": (SHARED / "goemotions.tar.gz", "goemotions/train.csv")}
HEADER = ("| date | machine | encoder | data | texts | words mean / p90 | embedded in | seconds | texts/s | command |\n"
          "|---|---|---|---|---|---|---|---|---|---|\n")


def texts_of(archive, member: str, n: int) -> list:
  with tarfile.open(archive) as tar:
    rows = list(csv.DictReader(line.decode("utf-8") for line in tar.extractfile(member)))
  random.Random(0).shuffle(rows)
  return [r["text"] for r in rows[:n]]


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--handles", default="minilm-l6-encoder,use-multilingual-v3")
  p.add_argument("--texts", type=int, default=1000)
  p.add_argument("--label", default="", help="a note for the encoder column")
  p.add_argument("--in-map", action="store_true", help="embed inside tf.data's map (the Trainer before 2026-11-30)")
  args = p.parse_args(argv)
  rows = []
  command = ' ARGS="' + " ".join(argv if argv is not None else sys.argv[1:]) + '"' if (argv or sys.argv[1:]) else ""
  for handle in args.handles.split(","):
    layer = hub.KerasLayer(handles.resolve(handle), trainable=False)
    for data, (archive, member) in SOURCES.items():
      texts = texts_of(archive, member, args.texts)
      words = np.array([len(t.split()) for t in texts])
      batches = tf.data.Dataset.from_tensor_slices((texts, np.zeros(len(texts)))).batch(64)
      layer(tf.constant(texts[:64]))  # traced and warmed up
      start = time.time()
      if args.in_map:
        for _ in batches.map(lambda text, label: (layer(text), label)):
          pass
      else:
        model_lib.embed_once(batches, layer)
      seconds = time.time() - start
      name = handle if handle in handles.registry.REGISTRY else f"`{handle}`"
      rows.append(f"| {datetime.date.today()} | {machine()} | {name}{' (' + args.label + ')' if args.label else ''} "
                  f"| {data} train | {len(texts)} | {words.mean():.0f} / {np.percentile(words, 90):.0f} "
                  f"| {'tf.data map' if args.in_map else 'eager batches'} "
                  f"| {seconds:.1f} | {len(texts) / seconds:.0f} | `make bench-encoders{command}` |\n")
      print(rows[-1], end="", flush=True)
  text = RESULTS.read_text() if RESULTS.exists() else (
      "# Frozen encoder speed\n\nWritten by `make bench-encoders` (benchmarks/encoder_speed.py).\n\n" + HEADER)
  RESULTS.write_text(text + "".join(rows))
  print(f"[bench] appended to {RESULTS}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
