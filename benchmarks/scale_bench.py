"""How the pipeline's cost grows with its data: the whole pipeline on labelled text sets of
25k, 100k, 400k and 1M rows; per component seconds, examples/s and peak memory.

    make bench-scale                                  # every size, in order (hours at 1M)
    make bench-scale ARGS="--sizes 25000 100000"

The sets are made deterministically from the shared IMDB archive (seed SEED): each row is
a new review recombined from sentences of reviews with the same label (as many sentences
as a real review, drawn at random), so no text repeats, and the labels alternate. They are written once to
outputs/bench-scale/data/<rows>/train.csv (the pipeline carves eval and test by hash,
8/1/1). Each run is `python -m pipeline.cli run` in its own process; its resident memory,
children (Beam workers, the server) included, is sampled every 0.5 s and charged to the
component running at the time (from the run's `[pipeline] X ...` lines).
"""
import argparse
import csv
import datetime
import hashlib
import os
import random
import re
import subprocess
import sys
import tarfile
import threading
import time

import psutil

from benchmarks.pipeline_bench import component_seconds, machine
from pipeline.config import REPO_ROOT

ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "aclImdb_v1.tar.gz"
OUT = REPO_ROOT / "outputs" / "bench-scale"
RESULTS = REPO_ROOT / "benchmarks" / "scale_results.md"
SIZES = (25_000, 100_000, 400_000, 1_000_000)
SEED = 20261130
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_STEP = re.compile(r"^\[pipeline\] (\S+) (\.\.\.|done)")
UP_FRONT = "up-front check"   # python start, the row check and the task decision, before any component


def _reviews() -> dict:
  """{label: [[sentence, ...] per review]} from the archive's labelled train and test reviews."""
  by_label = {"neg": [], "pos": []}
  with tarfile.open(ARCHIVE) as archive:
    for member in archive:
      parts = member.name.split("/")
      if member.isfile() and len(parts) == 4 and parts[1] in ("train", "test") and parts[2] in by_label:
        text = archive.extractfile(member).read().decode("utf-8").replace("<br />", " ")
        by_label[parts[2]].append([s for s in _SENTENCE.split(text) if s.strip()])
  return by_label


def make_set(rows: int) -> str:
  """Writes (once) and returns the folder of a `rows`-row set; the same rows every time."""
  folder = OUT / "data" / str(rows)
  path = folder / "train.csv"
  if path.exists():
    return str(folder)
  reviews = _reviews()
  pools = {label: [s for review in group for s in review] for label, group in reviews.items()}
  lengths = {label: [len(review) for review in group] for label, group in reviews.items()}
  rng, seen = random.Random(SEED), set()
  folder.mkdir(parents=True, exist_ok=True)
  with open(f"{path}.partial", "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "label"])
    written = 0
    while written < rows:
      label = ("neg", "pos")[written % 2]
      text = " ".join(rng.choice(pools[label]) for _ in range(rng.choice(lengths[label])))
      key = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
      if key in seen:
        continue
      seen.add(key)
      writer.writerow([text, label])
      written += 1
  os.replace(f"{path}.partial", path)
  return str(folder)


def _sample_memory(process: psutil.Process, current: list, peaks: dict, stop: threading.Event) -> None:
  while not stop.wait(0.5):
    try:
      tree = [process, *process.children(recursive=True)]
      rss = sum(p.memory_info().rss for p in tree if p.is_running())
    except psutil.Error:
      continue
    for key in (current[0], "whole run"):
      peaks[key] = max(peaks.get(key, 0), rss)


def run_size(rows: int, extra_args) -> dict:
  data = make_set(rows)
  output_dir = OUT / "runs" / str(rows)
  subprocess.run(["rm", "-rf", str(output_dir)], check=True)
  command = [sys.executable, "-m", "pipeline.cli", "run", "--data", data, "--name", f"scale-{rows}",
             "--output-dir", str(output_dir), *extra_args]
  start = time.time()
  process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  current, peaks, stop = [UP_FRONT], {}, threading.Event()
  first_step = None
  sampler = threading.Thread(target=_sample_memory, args=(psutil.Process(process.pid), current, peaks, stop),
                             daemon=True)
  sampler.start()
  log = []
  for line in process.stdout:
    log.append(line)
    match = _STEP.match(line)
    if match and match[2] == "...":
      current[0] = match[1]
      first_step = first_step or time.time()
  code = process.wait()
  stop.set()
  sampler.join()
  wall = time.time() - start
  (OUT / f"run-{rows}.log").write_text("".join(log))
  if code != 0:
    raise RuntimeError(f"the {rows}-row run failed ({code}); log: {OUT / f'run-{rows}.log'}")
  seconds = component_seconds(str(output_dir / "metadata" / f"scale-{rows}" / "metadata.db"))
  seconds[UP_FRONT] = (first_step or start) - start
  return {"rows": rows, "wall": wall, "seconds": seconds, "peaks": peaks}


def table(result: dict, run_args=()) -> str:
  rows = result["rows"]
  flags = f", `{' '.join(run_args)}`" if run_args else ""
  lines = [f"\n### {rows:,} rows ({datetime.date.today()}, {machine()}{flags})\n",
           "| component | seconds | rows/s | µs per row | peak RSS (GiB) |", "|---|---|---|---|---|"]
  for component, seconds in sorted(result["seconds"].items(), key=lambda kv: -kv[1]):
    if seconds < 0.5:
      continue
    peak = result["peaks"].get(component, 0) / 2**30
    lines.append(f"| {component} | {seconds:.1f} | {rows / seconds:,.0f} | {1e6 * seconds / rows:.0f} | {peak:.2f} |")
  lines.append(f"| **whole run** | {result['wall']:.1f} | {rows / result['wall']:,.0f} | "
               f"{1e6 * result['wall'] / rows:.0f} | {result['peaks'].get('whole run', 0) / 2**30:.2f} |")
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
  p.add_argument("--make-only", action="store_true", help="write the data sets, run nothing")
  p.add_argument("run_args", nargs="*", help="make run's flags (after --), e.g. -- --infra-validator none")
  args = p.parse_args(argv)
  for rows in args.sizes:
    if args.make_only:
      print(f"[bench-scale] {make_set(rows)}", flush=True)
      continue
    print(f"[bench-scale] {rows:,} rows ...", flush=True)
    text = table(run_size(rows, args.run_args), args.run_args)
    print(text, flush=True)
    with open(RESULTS, "a", encoding="utf-8") as f:
      f.write(text)
  return 0


if __name__ == "__main__":
  sys.exit(main())
