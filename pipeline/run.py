"""Resolves inputs, builds the pipeline and runs it on an orchestrator.

One entry point for the CLI, the tests and the benchmarks, so they all run the same
thing. Progress lines come from the orchestrators' own "Component X is running /
finished" log records; everything else TF and Beam log is kept out of the terminal
unless verbose.
"""
import dataclasses
import logging
import sys
import time

from absl import logging as absl_logging
from tfx import v1 as tfx

from models.embeddings import handles
from pipeline import inputs
from pipeline import pipeline as pipeline_def
from pipeline import summary
from pipeline.config import MULTI_PROCESS_BEAM_ARGS, PipelineConfig

LOCAL = "local"
BEAM = "beam"


class _ProgressFilter(logging.Filter):
  """Passes component progress and errors; drops the rest unless verbose."""

  def __init__(self, verbose: bool):
    super().__init__()
    self._verbose = verbose
    self._started = {}

  def filter(self, record: logging.LogRecord) -> bool:
    if self._verbose or record.levelno >= logging.ERROR:
      return True
    message = record.getMessage()
    if message.startswith("Component ") and message.endswith((" is running.", " is finished.")):
      name = message.split(" ")[1]
      if message.endswith("running."):
        self._started[name] = time.time()
        record.msg, record.args = f"[pipeline] {name} ...", ()
      else:
        record.msg, record.args = f"[pipeline] {name} done in {time.time() - self._started.get(name, time.time()):.1f} s", ()
      return True
    return False


def configure_logging(verbose: bool = False) -> None:
  absl_logging.set_verbosity(absl_logging.INFO)
  handler = logging.StreamHandler(sys.stdout)
  handler.setFormatter(logging.Formatter("%(message)s"))
  handler.addFilter(_ProgressFilter(verbose))
  root = logging.getLogger()
  root.handlers = [handler]
  root.setLevel(logging.INFO)
  absl_logging.get_absl_handler().setLevel(logging.CRITICAL + 1)
  tf_logger = logging.getLogger("tensorflow")  # has its own stderr handler otherwise
  tf_logger.handlers, tf_logger.propagate = [], True


def build(config: PipelineConfig, beam_pipeline_args=None) -> tfx.dsl.Pipeline:
  """Checks the data and the embedding handle, then defines the pipeline.

  Resolving the handle here fails a bad one before any data is read, and builds the
  default module into the cache the Trainer then reuses.
  """
  data = inputs.resolve(config.data, config.cache_dir)
  data = dataclasses.replace(data, class_names=pipeline_def.label_vocabulary(config, data))
  handles.resolve(config.model.embedding_handle)
  return pipeline_def.create_pipeline(
      config, data, beam_pipeline_args,
      tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))


def run(config: PipelineConfig, runner: str = LOCAL) -> summary.RunSummary:
  """Runs the whole pipeline and returns what the run recorded."""
  if runner not in (LOCAL, BEAM):
    raise ValueError(f"unknown runner {runner!r} (expected {LOCAL!r} or {BEAM!r})")
  start = time.time()
  if runner == LOCAL:
    tfx.orchestration.LocalDagRunner().run(build(config))
  else:
    from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner  # pylint: disable=import-outside-toplevel
    BeamDagRunner().run(build(config, list(MULTI_PROCESS_BEAM_ARGS)))
  result = summary.read(config.metadata_path)
  result.wall_seconds = time.time() - start
  return result
