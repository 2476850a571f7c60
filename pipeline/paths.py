"""Where a run's files live unless told otherwise: the checkout, make run's outputs, the cache.

Standard library only: the host's python3 reads it too (pipeline/runners/worker_pool.py mounts
these folders into the image), where the project's own environment, with TF, is not available.
"""
import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT_DIR = REPO_ROOT / "outputs"      # make run's default --output-dir
CACHE_ENV = "TFX_TEXT_CACHE"            # overrides the cache folder (scripts/env.sh reads it too)


def serving_model_dir(model_name: str, output_dir=OUTPUT_DIR) -> str:
  """TF Serving's model base path for a run's outputs: <output_dir>/serving/<model_name>/<version>/."""
  return os.path.join(output_dir, "serving", model_name)


def cache_root() -> pathlib.Path:
  """The environment, module and dataset cache; $TFX_TEXT_CACHE when set and not empty."""
  return pathlib.Path(os.environ.get(CACHE_ENV) or pathlib.Path.home() / ".cache" / "tfx-text-pipeline")
