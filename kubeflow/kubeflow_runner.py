"""Compiles the pipeline to a Kubeflow Pipelines (v2) spec:

    python -m kubeflow.kubeflow_runner --image REGISTRY/tfx-text-pipeline:TAG \
        --data gs://BUCKET/aclImdb --root gs://BUCKET/tfx

Upload the JSON in the KFP UI or with `kfp` (kubeflow/README.md). Nothing is read on the
compiling machine: the data's layout is given (--split, default aclImdb's folders), its
columns with the same options as `make run`, and the task comes from the curated schema
(`make schema` drafts one for any data), so the row checks happen in the cluster
(TextExampleGen, ExampleValidator).
"""
import argparse
import os
import sys

from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from components.errors import InputDataError
from models import task as task_lib
from pipeline import inputs
from pipeline import pipeline as pipeline_def
from pipeline import sources
from pipeline.config import MULTI_PROCESS_BEAM_ARGS, PIPELINE_IMAGE, REPO_ROOT, DataConfig, PipelineConfig, with_workers_image

IMAGE_REPO_ROOT = "/pipeline"  # where kubeflow/Dockerfile copies the repository
DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imdb_sentiment_pipeline.json")
ACLIMDB_SPLITS = ("train=train/*/*.txt", "test=test/*/*.txt")


class MissingSchemaError(InputDataError):
  """The compile needs the curated schema (the task) and there is none for this pipeline."""


def compile_pipeline(image: str, data: str, root: str, output_file: str, name: str = "imdb-sentiment",
                     splits=ACLIMDB_SPLITS, schema: str = "", kind: str = "auto", beam_args=(),
                     baseline: str = pipeline_def.LATEST_BLESSED,
                     hyperparameters: str = pipeline_def.NO_HYPERPARAMETERS,
                     columns: DataConfig = DataConfig(), schema_in_image: str = "", intended_use: str = "") -> str:
  """Writes the KFP spec; outputs go to <root>/pipelines, the Pusher to <root>/serving.
  `columns` carries the data options of `make run` (text and label columns, label
  delimiter); `schema_in_image` is where the containers read the schema (default: the
  image's copy of schemas/); `intended_use` is the model card's intended-use Markdown."""
  local_schema = schema or str(REPO_ROOT / "schemas" / name / "schema.pbtxt")
  if not os.path.isfile(local_schema):
    raise MissingSchemaError(
        f"{local_schema}: no curated schema for pipeline {name!r}, and the compile takes the task (kind, labels) "
        f"from it. Draft one from a copy of the data on this machine: make schema ARGS=\"--data DIR --name {name}"
        f"{'' if columns.label_column == DataConfig().label_column else ' --label-column ' + columns.label_column}"
        f"\", review it, then compile again (or give --schema FILE)")
  column_options = dict(text_column=columns.text_column, label_column=columns.label_column,
                        label_delimiter=columns.label_delimiter)
  task = inputs.task_from_schema(local_schema, kind, **column_options)
  in_image = schema_in_image or local_schema.replace(str(REPO_ROOT), IMAGE_REPO_ROOT)
  config = PipelineConfig(name=name, output_dir=root,
                          data=DataConfig(path=data, task=kind, **column_options),
                          schema_path=in_image, intended_use=intended_use,
                          sources_sha256=sources.sources_sha256(local_schema),
                          beam_args=tuple(with_workers_image(beam_args, image)) if beam_args else ())
  config = config.replace(model=config.model.for_task(task))
  dataset = inputs.Dataset(input_base=data, patterns=tuple(tuple(s.split("=", 1)) for s in splits),
                           description=data, name=name, ignored_folders=config.data.ignored_folders)
  definition = pipeline_def.create_pipeline(config, dataset, task, with_workers_image(MULTI_PROCESS_BEAM_ARGS, image), baseline=baseline,
                                              hyperparameters=hyperparameters)
  runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image),
      output_dir=os.path.dirname(os.path.abspath(output_file)),
      output_filename=os.path.basename(output_file))
  runner.run(definition, write_out=True)
  return output_file


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--image", default=PIPELINE_IMAGE)
  p.add_argument("--data", default="/data/aclImdb", help="the data folder as the containers see it")
  p.add_argument("--split", action="append", default=None,
                 help="SPLIT=GLOB under --data, repeatable (default: aclImdb's train/*/*.txt and test/*/*.txt); "
                      "missing eval/test splits are carved from train")
  p.add_argument("--name", default="imdb-sentiment", help="pipeline name (the TF Serving model name: with _ for -)")
  p.add_argument("--text-column", default=DataConfig().text_column, help="as for make run")
  p.add_argument("--label-column", default=DataConfig().label_column, help="as for make run")
  p.add_argument("--label-delimiter", default=DataConfig().label_delimiter,
                 help="joins a row's labels in one CSV field (multi-label), as for make run")
  p.add_argument("--schema", default="", help="curated schema on this machine, read for the task (default: "
                                              "schemas/<name>/schema.pbtxt; make schema drafts one)")
  p.add_argument("--schema-in-image", default="", metavar="PATH",
                 help="where the containers read the schema (default: the image's copy of the checkout's file, "
                      f"{IMAGE_REPO_ROOT}/schemas/<name>/schema.pbtxt, so a schema drafted after make image "
                      "needs make image again; or a mounted path given here)")
  p.add_argument("--task", default="auto", choices=["auto", *task_lib.KINDS],
                 help="the task kind; auto: the one the schema declares (multi-label where the label may hold "
                      "several values, else binary for 2 labels and multi-class for more). Given, it must agree "
                      "with the schema")
  p.add_argument("--root", default="/tfx", help="output folder as the containers see it")
  p.add_argument("--output", default=DEFAULT_OUTPUT)
  p.add_argument("--beam-arg", action="append", default=None, metavar="OPTION",
                 help="a Beam pipeline option for every Beam-powered step, repeatable (default: DirectRunner, "
                      "2 worker processes in the step's container)")
  p.add_argument("--baseline", default=pipeline_def.LATEST_BLESSED, metavar="latest-blessed|none|MODEL_URI",
                 help="what the Evaluator compares against: the pipeline's latest blessed model (a resolver node: "
                      "Vertex AI Pipelines), none, or a given Model artifact URI (an importer node: for the "
                      "open-source Kubeflow Pipelines backend, which has no resolver nodes)")
  p.add_argument("--hyperparameters", default=pipeline_def.NO_HYPERPARAMETERS,
                 metavar="none|latest-tuned|HYPERPARAMETERS_URI",
                 help="what the Trainer trains with besides its defaults: nothing (default), the pipeline's latest "
                      "Tuner result (a resolver node: Vertex AI Pipelines), or a given best_hyperparameters "
                      "artifact URI from a tuned run (an importer node)")
  p.add_argument("--intended-use", default=None, metavar="FILE",
                 help="Markdown for the model card's intended-use section, as for make run (read now, compiled in)")
  args = p.parse_args(argv)
  intended_use = ""
  if args.intended_use:
    try:
      intended_use = open(args.intended_use, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as e:
      p.error(f"--intended-use {args.intended_use}: {e}")
  columns = DataConfig(text_column=args.text_column, label_column=args.label_column,
                       label_delimiter=args.label_delimiter)
  try:
    print(compile_pipeline(args.image, args.data, args.root, args.output, args.name,
                           tuple(args.split or ACLIMDB_SPLITS), args.schema, args.task, args.beam_arg or (),
                           args.baseline, args.hyperparameters, columns, args.schema_in_image, intended_use))
  except (InputDataError, task_lib.TaskError) as e:
    print(f"kubeflow_runner: {type(e).__name__}: {e}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
