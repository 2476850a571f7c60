"""Drafts a curated schema for any data set, for review before the pipeline enforces it.

    make schema                                         # the bundled IMDB sample
    make schema ARGS="--data ~/tickets --name tickets --label-column category"
    make schema ARGS="--data data/goemotions --label-column labels"

It reads the data as `make run` does (same data flags, same task decision: kind and
label vocabulary), lets SchemaGen infer the features from the train split's statistics,
and then declares the label as the task has it: its domain is the task's vocabulary (in
the order the model's outputs will have) and its shape says one label or several per
row. The draft goes to `schemas/<name>/schema.pbtxt`, which `make run` and the Kubeflow
compile use; where that file exists it goes beside it as `schema.draft.pbtxt`, to diff.
Review the label vocabulary and presence before committing it: the curated schema is the
contract ExampleValidator enforces, never applied unreviewed.
"""
import argparse
import datetime
import os
import shutil
import sys
import tempfile

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components import SchemaGen
from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.utils import io_utils

from models import features
from models import task as task_lib
from pipeline import cli
from pipeline import inputs
from pipeline import pipeline as pipeline_def
from pipeline import run
from pipeline.config import REPO_ROOT, DataConfig, PipelineConfig

DRAFT_FILE = "schema.draft.pbtxt"


def infer(dataset: inputs.Dataset, task: task_lib.Task, out_path: str) -> str:
  """SchemaGen's schema for a located data set and its decided task (a draft: the label's
  domain as SchemaGen saw it)."""
  with tempfile.TemporaryDirectory() as work:
    config = PipelineConfig(name="infer-schema", output_dir=work, infer_schema=True)
    example_gen = pipeline_def.make_example_gen(config, dataset, task)
    statistics_gen = pipeline_def.make_statistics_gen(example_gen.outputs["examples"])
    schema_gen = SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                          infer_feature_shape=True)
    LocalDagRunner().run(tfx_pipeline.Pipeline(
        pipeline_name=config.name, pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, schema_gen],
        metadata_connection_config=metadata.sqlite_metadata_connection_config(config.metadata_path),
        beam_pipeline_args=config.beam_pipeline_args()))
    schema_dir = os.path.join(config.pipeline_root, "SchemaGen", "schema")
    produced = os.path.join(schema_dir, sorted(os.listdir(schema_dir))[-1], "schema.pbtxt")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    shutil.copy(produced, out_path)
  return out_path


def declare_task(schema: schema_pb2.Schema, task: task_lib.Task) -> schema_pb2.Schema:
  """The schema with its label declared as the task has it: the vocabulary as a string
  domain, one value per row (binary, multi-class) or at least one (multi-label)."""
  label = next(f for f in schema.feature if f.name == features.DEFAULT_LABEL_KEY)
  label.ClearField("domain_info")
  label.domain = features.DEFAULT_LABEL_KEY
  label.presence.min_fraction = 1.0
  label.presence.min_count = 1
  label.ClearField("shape")
  label.ClearField("value_count")
  if task.kind == task_lib.MULTI_LABEL:
    label.value_count.min = 1
  else:
    label.shape.dim.add(size=1)
  for domain in list(schema.string_domain):
    if domain.name == features.DEFAULT_LABEL_KEY:
      schema.string_domain.remove(domain)
  schema.string_domain.add(name=features.DEFAULT_LABEL_KEY, value=list(task.labels))
  return schema


def draft(data: DataConfig, name: str = "", out_path: str = "") -> tuple[str, task_lib.Task]:
  """Writes the draft; returns its path and the task it declares (checked by reading it back)."""
  dataset = inputs.find(data, PipelineConfig().cache_dir)
  name = name or dataset.name
  task = inputs.decide_task(dataset, data, None)
  if not out_path:
    folder = REPO_ROOT / "schemas" / name
    out_path = str(folder / (DRAFT_FILE if (folder / "schema.pbtxt").exists() else "schema.pbtxt"))
  with tempfile.TemporaryDirectory() as work:
    inferred = io_utils.parse_pbtxt_file(infer(dataset, task, os.path.join(work, "schema.pbtxt")),
                                         schema_pb2.Schema())
  schema = declare_task(inferred, task)
  header = (f"# Draft of the curated schema for pipeline {name!r}: {task.kind}, {len(task.labels)} labels.\n"
            f"# Drafted by `make schema` on {datetime.date.today()} from {data.path}\n"
            f"# (text column {data.text_column!r}, label column {data.label_column!r}). Review the label\n"
            f"# domain (the model's label order) and presence, then commit it as schemas/{name}/schema.pbtxt.\n")
  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  with open(out_path, "w", encoding="utf-8") as f:
    f.write(header + str(schema))
  declared = inputs.task_from_schema(out_path, data.task, text_column=data.text_column,
                                     label_column=data.label_column, label_delimiter=data.label_delimiter)
  if (declared.kind, declared.labels) != (task.kind, task.labels):  # the compile must read what make run decides
    raise AssertionError(f"{out_path} declares {declared.kind} {declared.labels}, the data {task.kind} {task.labels}")
  return out_path, task


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m pipeline.infer_schema", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  cli.add_data_arguments(p)
  p.add_argument("--name", default="", help="pipeline name (default: the data folder's name, as make run names it)")
  p.add_argument("--out", default="", help=f"where to write (default: schemas/<name>/schema.pbtxt, or "
                                           f"{DRAFT_FILE} beside an existing one)")
  args = p.parse_args(argv)
  run.configure_logging()
  try:
    path, task = draft(cli.data_config(args), args.name, args.out)
  except cli.USER_ERRORS as e:
    print(f"schema: {type(e).__name__}: {e}", file=sys.stderr)
    return 2
  print(f"schema: wrote {path}: {task.kind}, labels {', '.join(task.labels)}. Review it (label order and "
        f"presence) before it becomes the curated schema; the Kubeflow image carries schemas/ from its "
        f"build (make image again, or mount it: kubeflow/README.md)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
