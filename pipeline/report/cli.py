"""`make report`: the report of the latest run (or --name), never creating metadata."""
import argparse
import os
import sys

from pipeline.config import PipelineConfig
from pipeline.paths import LAST_RUN_FILE, last_run
from pipeline.report import page


def main(argv=None) -> int:
  defaults = PipelineConfig()
  p = argparse.ArgumentParser(prog="python -m pipeline.report", description=__doc__)
  p.add_argument("--output-dir", default=defaults.output_dir, help="the run's output dir (metadata inside)")
  p.add_argument("--name", default="", help="pipeline name (default: the latest run's, from <output-dir>/"
                                              f"{LAST_RUN_FILE})")
  p.add_argument("--out", default=None, help="HTML file (default: <output-dir>/report/index.html)")
  args = p.parse_args(argv)
  name = args.name or last_run(args.output_dir).get("pipeline_name", "")
  if not name:
    print(f"report: no run recorded in {args.output_dir} ({LAST_RUN_FILE} is missing): "
          "run the pipeline first (make run), or give --name", file=sys.stderr)
    return 1
  config = defaults.replace(output_dir=args.output_dir, name=name)
  if not os.path.exists(config.metadata_path):   # connecting would create an empty store
    print(f"report: no run of pipeline {name!r} recorded in {args.output_dir} (no {config.metadata_path})",
          file=sys.stderr)
    return 1
  try:
    path = page.write(config, args.out)
  except RuntimeError as e:
    print(f"report: {e}", file=sys.stderr)
    return 1
  print(f"report: {path}")
  return 0
