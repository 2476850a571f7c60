"""The pipeline under BeamDagRunner, each component's Beam work on 2 worker processes:

    tfx pipeline create --engine beam --pipeline_path pipeline/runners/beam_runner.py
    tfx run create --engine beam --pipeline_name imdb-sentiment
"""
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from pipeline import run
from pipeline.config import MULTI_PROCESS_BEAM_ARGS, config_from_env

if __name__ == "__main__":
  run.configure_logging()
  BeamDagRunner().run(run.build(config_from_env(), list(MULTI_PROCESS_BEAM_ARGS)))
