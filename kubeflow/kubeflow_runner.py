"""Compiles the pipeline to a Kubeflow Pipelines (v2) spec:

    python -m kubeflow.kubeflow_runner --image REGISTRY/tfx-text-pipeline:TAG \
        --data gs://BUCKET/aclImdb --root gs://BUCKET/tfx

Upload the JSON in the KFP UI or with `kfp` (kubeflow/README.md). Paths are as the
containers see them: nothing is read on the compiling machine, so the data check and
the embedding resolution happen in the cluster (ExampleGen, Trainer).
"""
import argparse
import os

from tfx import v1 as tfx

from pipeline import inputs
from pipeline import pipeline as pipeline_def
from pipeline.config import MULTI_PROCESS_BEAM_ARGS, REPO_ROOT, DataConfig, PipelineConfig

IMAGE_REPO_ROOT = "/pipeline"  # where kubeflow/Dockerfile copies the repository
DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imdb_sentiment_pipeline.json")


def compile_pipeline(image: str, data: str, root: str, output_file: str) -> str:
  """Writes the KFP spec; outputs go to <root>/pipelines, the Pusher to <root>/serving."""
  local = PipelineConfig()
  config = local.replace(output_dir=root, data=DataConfig(path=data),
                         schema_path=local.schema_path.replace(str(REPO_ROOT), IMAGE_REPO_ROOT))
  classes = pipeline_def.label_vocabulary(local, inputs.ResolvedInput(inputs.ACLIMDB, data, (), data))
  definition = pipeline_def.create_pipeline(
      config, inputs.ResolvedInput(inputs.ACLIMDB, data, classes, data), list(MULTI_PROCESS_BEAM_ARGS))
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
      output_dir=os.path.dirname(os.path.abspath(output_file)),
      output_filename=os.path.basename(output_file))
  runner.run(definition, write_out=True)
  return output_file


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--image", default="tfx-text-pipeline:latest")
  p.add_argument("--data", default="/data/aclImdb", help="aclImdb folder as the containers see it")
  p.add_argument("--root", default="/tfx", help="output folder as the containers see it")
  p.add_argument("--output", default=DEFAULT_OUTPUT)
  args = p.parse_args(argv)
  print(compile_pipeline(args.image, args.data, args.root, args.output))


if __name__ == "__main__":
  main()
