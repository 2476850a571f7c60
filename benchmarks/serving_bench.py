"""Serving latency and throughput: the local server over gRPC and REST against calling
the same SavedModel in-process, in one run, on this machine. Writes a table to
benchmarks/serving_results.md.

    make bench-serving                    # the newest push in outputs/serving/imdb_sentiment
    make bench-serving ARGS="--requests 500"

Latency: sequential requests from one client (p50, p99). Throughput: rows per second
with `--concurrency` clients sending at once (server-side batching merges them). If
nothing has been pushed yet, the pipeline runs first on the bundled sample.
"""
import argparse
import concurrent.futures
import datetime
import os
import pathlib
import platform
import sys
import time

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  the pushed model's tokenizer ops

from models import features
from pipeline import run
from pipeline.config import REPO_ROOT, PipelineConfig
from serving.clients.grpc_client import GrpcClient
from serving.clients.rest_client import RestClient
from serving.local_server.launch import server_process

RESULTS = REPO_ROOT / "benchmarks" / "serving_results.md"
SAMPLE = REPO_ROOT / "data" / "imdb-sentiment" / "test"


def reviews(n: int) -> list[str]:
  paths = sorted(SAMPLE.glob("*/*.txt"))[:n]
  return [p.read_text() for p in paths]


def percentile_ms(seconds: list, q: float) -> float:
  return float(np.percentile(np.array(seconds) * 1000, q))


def latencies(call, batch: list, requests: int, warmup: int = 10) -> list:
  for _ in range(warmup):
    call(batch)
  out = []
  for _ in range(requests):
    start = time.perf_counter()
    call(batch)
    out.append(time.perf_counter() - start)
  return out


def throughput(make_call, batch: list, concurrency: int, seconds: float) -> float:
  """Rows per second with `concurrency` clients, each with its own connection."""
  deadline = time.perf_counter() + seconds

  def worker():
    call, rows = make_call(), 0
    while time.perf_counter() < deadline:
      call(batch)
      rows += len(batch)
    return rows

  start = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
    total = sum(pool.map(lambda _: worker(), range(concurrency)))
  return total / (time.perf_counter() - start)


def latest_push(base: pathlib.Path) -> pathlib.Path:
  versions = sorted((p for p in base.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)) if base.exists() else []
  if not versions:
    print(f"[bench] nothing pushed in {base}: running the pipeline on the bundled sample first")
    run.configure_logging()
    summary = run.run(PipelineConfig(name="imdb-sentiment"))
    if not summary.pushed_to:
      raise SystemExit(f"[bench] the pipeline pushed nothing:\n{summary.table()}")
    return pathlib.Path(summary.pushed_to)
  return versions[-1]


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model-base-path", default=PipelineConfig(name="imdb-sentiment").serving_model_dir)
  p.add_argument("--requests", type=int, default=300, help="sequential requests per latency cell")
  p.add_argument("--concurrency", type=int, default=8)
  p.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput cell")
  args = p.parse_args(argv)
  base = pathlib.Path(args.model_base_path)
  version_dir = latest_push(base)
  model_name = base.name
  texts = reviews(32)
  batches = {1: texts[:1], 32: texts}

  model = tf.saved_model.load(str(version_dir))
  serve_text = model.signatures[features.SERVING_TEXT_SIGNATURE]
  in_process = lambda batch: serve_text(text=tf.constant(batch))  # noqa: E731

  rows = []
  with server_process(model_name, str(base)) as (grpc_target, rest_url):
    with GrpcClient(grpc_target, model_name, timeout=60) as probe:
      deadline = time.time() + 120
      while not any(state == "AVAILABLE" for _, state in _status(probe)) and time.time() < deadline:
        time.sleep(0.5)
    grpc_client = GrpcClient(grpc_target, model_name, timeout=60)
    rest_client = RestClient(rest_url, model_name, timeout=60)
    paths = {
        "in-process": (in_process, lambda: in_process),
        "gRPC Predict": (grpc_client.predict_text, lambda: GrpcClient(grpc_target, model_name, timeout=60).predict_text),
        "REST predict": (rest_client.predict_text, lambda: RestClient(rest_url, model_name, timeout=60).predict_text),
    }
    for batch_size, batch in batches.items():
      base_p50 = None
      for path, (call, make_call) in paths.items():
        lat = latencies(call, batch, args.requests)
        p50, p99 = percentile_ms(lat, 50), percentile_ms(lat, 99)
        rate = throughput(make_call, batch, args.concurrency, args.seconds)
        base_p50 = p50 if base_p50 is None else base_p50
        rows.append((path, batch_size, p50, p99, rate, p50 - base_p50, p50 / base_p50))
        print(f"[bench] {path:13s} batch {batch_size:2d}: p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
              f"{rate:8.0f} rows/s  overhead p50 {p50 - base_p50:+.2f} ms (x{p50 / base_p50:.2f})", flush=True)
    grpc_client.close()
    rest_client.close()
  write_results(rows, version_dir, args)
  return 0


def _status(client):
  try:
    return client.status()
  except Exception:  # pylint: disable=broad-except  # not loaded yet
    return []


def write_results(rows, version_dir, args) -> None:
  header = (f"# Serving benchmark\n\n"
            f"Written by `make bench-serving` (benchmarks/serving_bench.py) on {datetime.date.today()}, "
            f"{os.cpu_count()} cores {platform.machine()} ({platform.system()}), no GPU. Model: "
            f"`{version_dir}` (signature `serving_text`, raw reviews from the bundled sample's test split). "
            f"Server: `python -m serving.local_server` in its own process, default batching "
            f"(max batch 32, no batch timeout), on 127.0.0.1. Latency: {args.requests} sequential requests "
            f"from one client after 10 warm-up requests. Throughput: {args.concurrency} concurrent clients "
            f"for {args.seconds:.0f} s. Overhead: p50 minus the in-process p50 of the same batch size, "
            f"measured in the same run.\n\n"
            "| path | batch | p50 ms | p99 ms | rows/s | p50 overhead ms | p50 ratio |\n"
            "|---|---|---|---|---|---|---|\n")
  body = "".join(f"| {path} | {batch} | {p50:.2f} | {p99:.2f} | {rate:.0f} | {over:+.2f} | {ratio:.2f} |\n"
                 for path, batch, p50, p99, rate, over, ratio in rows)
  RESULTS.write_text(header + body)
  print(f"\n[bench] wrote {RESULTS}")


if __name__ == "__main__":
  sys.exit(main())
