"""Where a run's files live unless told otherwise: the checkout, make run's outputs, the cache.

Standard library only: the host's python3 reads it too (pipeline/runners/worker_pool.py mounts
these folders into the image), where the project's own environment, with TF, is not available.
"""
import json
import os
import pathlib
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT_DIR = REPO_ROOT / "outputs"      # make run's default --output-dir
CACHE_ENV = "TFX_TEXT_CACHE"            # overrides the cache folder (scripts/env.sh reads it too)
LAST_RUN_FILE = "last_run.json"         # in the output dir: the latest run's RunSummary
SAMPLE_SERVING_MODEL = "imdb_sentiment"  # the model name the bundled sample's run pushes as


def serving_model_dir(model_name: str, output_dir=OUTPUT_DIR) -> str:
  """TF Serving's model base path for a run's outputs: <output_dir>/serving/<model_name>/<version>/."""
  return os.path.join(output_dir, "serving", model_name)


def cache_root() -> pathlib.Path:
  """The environment, module and dataset cache; $TFX_TEXT_CACHE when set and not empty."""
  return pathlib.Path(os.environ.get(CACHE_ENV) or pathlib.Path.home() / ".cache" / "tfx-text-pipeline")


def last_run(output_dir=OUTPUT_DIR) -> dict:
  """The latest run's summary as `make run` wrote it to output_dir; {} if there is none."""
  try:
    with open(os.path.join(output_dir, LAST_RUN_FILE), encoding="utf-8") as f:
      return json.load(f)
  except (FileNotFoundError, ValueError):
    return {}


def latest_serving_model(output_dir=OUTPUT_DIR) -> str:
  """The TF Serving model name the latest run pushed as; the bundled sample's if none ran."""
  return last_run(output_dir).get("serving_model") or SAMPLE_SERVING_MODEL


def main(argv) -> int:
  """For the Makefile (make serve): `python3 -m pipeline.paths serving-model` prints the
  latest run's model name, `python3 -m pipeline.paths model-base NAME` its base path."""
  if argv[:1] == ["serving-model"] and len(argv) == 1:
    print(latest_serving_model(OUTPUT_DIR))
  elif argv[:1] == ["model-base"] and len(argv) == 2:
    print(os.path.relpath(serving_model_dir(argv[1], OUTPUT_DIR)))
  else:
    print("usage: python3 -m pipeline.paths {serving-model | model-base NAME}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
