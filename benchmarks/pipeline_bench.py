"""Runs the pipeline and appends a results row to BENCHMARKS.md.

    make bench ARGS="--data ../shared/data/aclImdb_v1.tar.gz --epochs 3 --batch-size 128"
    make bench                      # the bundled sample, default config

Accuracy and AUC are the Evaluator's, on the test split (the official 25k test reviews
for the full dataset, never used for model selection). Component times are the
executions' start and end times as ML Metadata recorded them.
"""
import argparse
import datetime
import os
import pathlib
import platform
import shlex
import shutil
import sys


from pipeline import cli
from pipeline import run
from pipeline import summary
from pipeline.config import REPO_ROOT

RESULTS = REPO_ROOT / "BENCHMARKS.md"
HEADER = ("| date | machine | data | embedding | epochs | batch | test accuracy | test AUC | test examples "
          "| ExampleGen s | Transform s | Trainer s | Evaluator s | wall s | command |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
MARKER = "<!-- results -->"


def component_seconds(metadata_path: str) -> dict:
  """Seconds per component in the newest run, from MLMD execution timestamps."""
  with summary.metadata_store(metadata_path) as store:
    newest = {}
    for execution in store.get_executions():
      node = next((c.name.rsplit(".", 1)[-1] for c in store.get_contexts_by_execution(execution.id)
                   if c.type == "node"), None)
      if node and (node not in newest or execution.id > newest[node].id):
        newest[node] = execution
  return {node: (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000
          for node, e in newest.items()}


def machine() -> str:
  return f"{os.cpu_count()} cores {platform.machine()}, {platform.system()}"


def main(argv=None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  parser = argparse.ArgumentParser(add_help=False)
  parser.add_argument("--output-dir", default=str(REPO_ROOT / "outputs" / "bench"))
  known, _ = parser.parse_known_args(argv)
  if "--output-dir" not in argv:
    argv += ["--output-dir", known.output_dir]
  shutil.rmtree(known.output_dir, ignore_errors=True)  # a fresh MLMD: no baseline from older runs
  config, args = cli.parse_config(["run"] + argv)
  run.configure_logging(args.verbose)
  result = run.run(config, args.runner)
  config = config.replace(name=result.pipeline_name)
  times = component_seconds(config.metadata_path)
  print("\n" + result.table())

  data = "full IMDB" if "aclImdb" in config.data.path and "sample" not in config.data.path else pathlib.Path(config.data.path).name
  flags = " ".join(a for a in argv if not a.startswith("--output-dir") and a != known.output_dir)
  command = f"make bench ARGS={shlex.quote(flags)}" if flags else "make bench"
  model = result.model
  row = (f"| {datetime.date.today()} | {machine()} | {data} | {model['embedding_handle']}"
         f"{'' if model['trainable'] else ' (frozen)'} | {model['epochs']} | {model['batch_size']} "
         f"| {result.accuracy or float('nan'):.4f} | {result.auc or float('nan'):.4f} "
         f"| {result.metrics.get('example_count', 0):.0f} | {times.get('TextExampleGen', 0):.0f} "
         f"| {times.get('Transform', 0):.0f} | {times.get('Trainer', 0):.0f} | {times.get('Evaluator', 0):.0f} "
         f"| {result.wall_seconds:.0f} | `{command}` |\n")
  text = RESULTS.read_text() if RESULTS.exists() else f"# Benchmarks\n\n{MARKER}\n{HEADER}"
  if MARKER not in text:
    text += f"\n{MARKER}\n{HEADER}"
  RESULTS.write_text(text.rstrip("\n") + "\n" + row)
  print(f"\nappended to {RESULTS}:\n{row}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
