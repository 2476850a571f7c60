"""Drafts a schema from data with SchemaGen, for review before it replaces schemas/.

    make schema            # the bundled IMDB sample -> schemas/imdb-sentiment/schema.inferred.pbtxt
    python -m pipeline.infer_schema --data data/goemotions --label-column labels --out /tmp/s.pbtxt

The curated schema is the contract ExampleValidator enforces; an inferred draft is a
starting point (review the label domain and presence), never applied automatically.
"""
import argparse
import os
import shutil
import tempfile

from tfx import v1 as tfx

from pipeline import inputs
from pipeline import pipeline as pipeline_def
from pipeline import run
from pipeline.config import DataConfig, PipelineConfig


def infer(data_path: str, out_path: str, **data_options) -> str:
  with tempfile.TemporaryDirectory() as work:
    config = PipelineConfig(name="infer-schema", output_dir=work, data=DataConfig(path=data_path, **data_options),
                            infer_schema=True)
    dataset = inputs.find(config.data, config.cache_dir)
    example_gen = pipeline_def.make_example_gen(config, dataset, inputs.decide_task(dataset, config.data, None))
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                          infer_feature_shape=True)
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name=config.name, pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, schema_gen],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path),
        beam_pipeline_args=config.beam_pipeline_args()))
    schema_dir = os.path.join(config.pipeline_root, "SchemaGen", "schema")
    produced = os.path.join(schema_dir, sorted(os.listdir(schema_dir))[-1], "schema.pbtxt")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    shutil.copy(produced, out_path)
  return out_path


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--data", default=PipelineConfig().data.path)
  p.add_argument("--text-column", default=DataConfig().text_column)
  p.add_argument("--label-column", default=DataConfig().label_column)
  p.add_argument("--out", required=True)
  args = p.parse_args(argv)
  run.configure_logging()
  path = infer(args.data, args.out, text_column=args.text_column, label_column=args.label_column)
  print(f"wrote {path}; review it (label domain, presence) before it becomes schemas/<name>/schema.pbtxt")


if __name__ == "__main__":
  main()
