"""Resolves inputs, builds the pipeline and runs it on an orchestrator.

One entry point for the CLI, the tests and the benchmarks, so they all run the same
thing. Progress lines come from the orchestrators' own "Component X is running /
finished" log records; everything else TF and Beam log is kept out of the terminal
unless verbose.
"""
import logging
import sys
import time

from absl import logging as absl_logging
from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from models import task as task_lib
from models.embeddings import handles
from pipeline import inputs
from pipeline import label_coverage
from pipeline import pipeline as pipeline_def
from pipeline import run_lock
from pipeline import sources
from pipeline import summary
from pipeline.config import MULTI_PROCESS_BEAM_ARGS, PipelineConfig

LOCAL = "local"
BEAM = "beam"


class _ProgressFilter(logging.Filter):
  """Passes component progress and errors; drops the rest unless verbose. A component
  whose outputs came from TFX's cache (--resume) is shown as reused."""

  def __init__(self, verbose: bool):
    super().__init__()
    self._verbose = verbose
    self._started = {}
    self._running = None
    self._cached = set()

  def filter(self, record: logging.LogRecord) -> bool:
    if self._verbose or record.levelno >= logging.ERROR:
      return True
    message = record.getMessage()
    if message.startswith("A cached execution ") and self._running:
      self._cached.add(self._running)
      return False
    if message.startswith("Component ") and message.endswith((" is running.", " is finished.")):
      name = message.split(" ")[1]
      if message.endswith("running."):
        self._started[name], self._running = time.time(), name
        record.msg, record.args = f"[pipeline] {name} ...", ()
      elif name in self._cached:
        record.msg, record.args = f"[pipeline] {name} reused from an earlier run (--resume)", ()
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
  # Python warnings (TFMA's numpy RuntimeWarnings, deprecations) become log records,
  # which the filter keeps out of the terminal unless verbose.
  logging.captureWarnings(True)


def prepare(config: PipelineConfig) -> tuple[PipelineConfig, inputs.Dataset, task_lib.Task]:
  """Finds the data, names the pipeline after it (unless --name), decides the task and
  checks it against the last blessed model's. Everything that reads data or metadata
  happens here, before the pipeline is defined."""
  dataset = inputs.find(config.data, config.cache_dir)
  config = config.replace(name=config.name or dataset.name)
  config = config.replace(sources_sha256=sources.sources_sha256(config.curated_schema))
  task, counts = inputs.decide_task_and_count(dataset, config.data, config.curated_schema)
  rare = label_coverage.rare_labels(task, counts, config.data)
  if rare:
    print(f"[pipeline] {len(rare)} of {len(task.labels)} labels are rare (pipeline/label_coverage.py):\n  "
          + "\n  ".join(r.describe() for r in rare), flush=True)
  summary.check_baseline_task(config.metadata_path, task)
  return config.replace(model=config.model.for_task(task)), dataset, task


def define(config: PipelineConfig, dataset: inputs.Dataset, task: task_lib.Task,
           beam_pipeline_args=None) -> tfx_pipeline.Pipeline:
  """The pipeline for prepared inputs, on local SQLite metadata.

  Resolving the embedding handle here fails a bad one before any component runs, and
  builds the default module into the cache the Trainer then reuses.
  """
  handles.resolve_all(config.model.embedding_handle)
  return pipeline_def.create_pipeline(
      config, dataset, task, beam_pipeline_args,
      metadata.sqlite_metadata_connection_config(config.metadata_path))


def build(config: PipelineConfig, beam_pipeline_args=None) -> tfx_pipeline.Pipeline:
  """prepare + define: what the tfx CLI's pipeline files run."""
  return define(*prepare(config), beam_pipeline_args)


def run(config: PipelineConfig, runner: str = LOCAL) -> summary.RunSummary:
  """Runs the whole pipeline and returns what the run recorded."""
  if runner not in (LOCAL, BEAM):
    raise ValueError(f"unknown runner {runner!r} (expected {LOCAL!r} or {BEAM!r})")
  start = time.time()
  config, dataset, task = prepare(config)
  with run_lock.held(config.metadata_path, config.name):
    return _run_prepared(config, dataset, task, runner, start)


def _run_prepared(config: PipelineConfig, dataset: inputs.Dataset, task: task_lib.Task, runner: str,
                  start: float) -> summary.RunSummary:
  print(f"[pipeline] {config.name}: {task.kind} task, {len(task.labels)} labels "
        f"({', '.join(task.labels[:8])}{', ...' if len(task.labels) > 8 else ''}); splits in the data: "
        f"{', '.join(dataset.splits)}; schema: {config.curated_schema or 'inferred by SchemaGen'}", flush=True)
  if runner == LOCAL:
    LocalDagRunner().run(define(config, dataset, task))
  else:
    from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner  # pylint: disable=import-outside-toplevel
    BeamDagRunner().run(define(config, dataset, task, list(MULTI_PROCESS_BEAM_ARGS)))
  result = summary.read(config.metadata_path, task)
  result.pipeline_name = config.name
  result.serving_model = config.serving_name
  result.schema = config.curated_schema or ""
  result.wall_seconds = time.time() - start
  return result
