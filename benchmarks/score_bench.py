"""Batch scoring speed: `make score` on the 50,000 unlabelled aclImdb reviews
(train/unsup) with a pipeline's last blessed model, beside the loop a user would write
without it (the same SavedModel's serving_text signature in process, batches of 256),
appended to benchmarks/score_results.md.

    make bench-score                                  # imdb-sentiment's model, outputs/
    make bench-score ARGS="--rows 5000 --name imdb-full --output-dir outputs/bench"

Needs a blessed model (make run, or make bench-full for the full-IMDB one). Time it
alone: on 2 cores a second heavy job inflates every figure.
"""
import argparse
import datetime
import json
import pathlib
import re
import subprocess
import sys
import tarfile
import time

from benchmarks.pipeline_bench import machine
from pipeline.config import REPO_ROOT, PipelineConfig

RESULTS = REPO_ROOT / "benchmarks" / "score_results.md"
ACLIMDB = REPO_ROOT.parent / "shared" / "data" / "aclImdb_v1.tar.gz"
HEADER = ("| date | machine | model | rows | make score s | rows/s | TextExampleGen s | BulkInferrer s "
          "| in-process loop s | loop rows/s | command |\n|---|---|---|---|---|---|---|---|---|---|---|\n")


def unsup_folder(target: pathlib.Path, rows: int) -> pathlib.Path:
  """aclImdb/train/unsup/*.txt (the first `rows` in the archive's order), extracted once."""
  folder = target / f"unsup-{rows}"
  if folder.is_dir() and len(list(folder.glob("*.txt"))) == rows:
    return folder
  folder.mkdir(parents=True, exist_ok=True)
  written = 0
  with tarfile.open(ACLIMDB) as tar:
    for member in tar:
      if written == rows:
        break
      if member.isfile() and "/train/unsup/" in member.name and member.name.endswith(".txt"):
        (folder / pathlib.Path(member.name).name).write_bytes(tar.extractfile(member).read())
        written += 1
  return folder


def in_process_loop(model_dir: str, texts: list, batch: int = 256) -> float:
  """Seconds for the hand-written alternative: the SavedModel's serving_text, batched."""
  import tensorflow as tf   # pylint: disable=import-outside-toplevel
  import tensorflow_text  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  from models import features   # pylint: disable=import-outside-toplevel
  signature = tf.saved_model.load(model_dir).signatures[features.SERVING_TEXT_SIGNATURE]
  start = time.time()
  for i in range(0, len(texts), batch):
    signature(**{features.TEXT_INPUT: tf.constant(texts[i:i + batch])})
  return time.time() - start


def main(argv=None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--name", default="imdb-sentiment", help="the pipeline whose blessed model scores")
  p.add_argument("--output-dir", default=PipelineConfig().output_dir)
  p.add_argument("--rows", type=int, default=50_000)
  args = p.parse_args(argv)
  work = pathlib.Path(args.output_dir) / "bench-score"
  folder = unsup_folder(work, args.rows)
  out = work / "predictions.csv"
  start = time.time()
  done = subprocess.run([sys.executable, "-m", "pipeline.score", "--data", str(folder), "--name", args.name,
                         "--output-dir", args.output_dir, "--out", str(out)], capture_output=True, text=True,
                        check=False)
  seconds = time.time() - start
  print(done.stdout[-3000:], done.stderr[-3000:] if done.returncode else "")
  if done.returncode:
    return done.returncode
  steps = dict(re.findall(r"\[pipeline\] (\w+) done in ([\d.]+) s", done.stdout))
  model = re.search(r"  model +(\S+)", done.stdout)[1]
  settings = json.loads((pathlib.Path(model) / "Format-Serving" / "assets.extra" / "model_config.json").read_text())
  texts = [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))]
  loop = in_process_loop(str(pathlib.Path(model) / "Format-Serving"), texts)
  rows = len(texts)
  command = "make bench-score" + (f' ARGS="{" ".join(argv)}"' if argv else "")
  line = (f"| {datetime.date.today()} | {machine()} | {args.name}: {settings['embedding_handle']} | {rows:,} "
          f"| {seconds:.0f} | {rows / seconds:,.0f} | {float(steps.get('TextExampleGen', 0)):.0f} "
          f"| {float(steps.get('BulkInferrer', 0)):.0f} | {loop:.0f} | {rows / loop:,.0f} | `{command}` |\n")
  if not RESULTS.exists():
    RESULTS.write_text("# Batch scoring (make score)\n\nWritten by `make bench-score` (benchmarks/score_bench.py): "
                       "the whole `make score` command (scoring pipeline, PredictionLogs, CSV) against an "
                       "in-process loop over the same SavedModel's serving_text signature.\n\n" + HEADER)
  with RESULTS.open("a") as f:
    f.write(line)
  print(HEADER + line)
  return 0


if __name__ == "__main__":
  sys.exit(main())
