"""The pipeline under LocalDagRunner, for the tfx CLI:

    tfx pipeline create --engine local --pipeline_path pipeline/runners/local_runner.py
    tfx run create --engine local --pipeline_name imdb-sentiment

Settings come from PipelineConfig, overridable through TFX_TEXT_* variables
(pipeline/config.py: config_from_env).
"""
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from pipeline import run
from pipeline.config import config_from_env

if __name__ == "__main__":
  run.configure_logging()
  LocalDagRunner().run(run.build(config_from_env()))
