"""`tfx pipeline create` + `tfx run create` with the local engine, as docs/running.md shows."""
import os
import subprocess
import sys

import pytest

from pipeline.config import REPO_ROOT, PipelineConfig, config_from_env
from tests.conftest import make_aclimdb


@pytest.mark.slow
def test_tfx_cli_local_engine(tmp_path):
  data = make_aclimdb(tmp_path / "aclImdb", {"train": 30, "test": 10})
  env = dict(os.environ, HOME=str(tmp_path / "home"), TFX_TEXT_DATA=str(data),
             TFX_TEXT_OUTPUT_DIR=str(tmp_path / "out"), TFX_TEXT_NAME="cli-test", TFX_TEXT_EPOCHS="1",
             TFX_TEXT_EMBEDDING="minilm-wordpiece-bag", TFX_TEXT_INFRA_VALIDATOR="none", TFX_TEXT_MODEL_CARD="0")
  tfx_cli = [sys.executable, "-m", "tfx.tools.cli.cli_main"]

  def call(*args):
    done = subprocess.run(tfx_cli + list(args), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr

  call("pipeline", "create", "--engine", "local", "--pipeline_path", "pipeline/runners/local_runner.py")
  call("run", "create", "--engine", "local", "--pipeline_name", "cli-test")
  # The run went through the whole chain: an evaluation exists (the sample floors may
  # or may not bless a 30-review model, so the push is not asserted here).
  assert list((tmp_path / "out" / "pipelines" / "cli-test" / "Evaluator").glob("evaluation/*"))


def test_the_tfx_cli_runners_take_make_runs_gate_steps_from_the_environment():
  config = config_from_env({"TFX_TEXT_INFRA_VALIDATOR": "none", "TFX_TEXT_MODEL_CARD": "0"})
  assert (config.infra_validator, config.model_card) == ("none", False)
  default = config_from_env({})
  assert (default.infra_validator, default.model_card) == (PipelineConfig().infra_validator, True)
  with pytest.raises(ValueError, match="TFX_TEXT_INFRA_VALIDATOR='nginx'"):
    config_from_env({"TFX_TEXT_INFRA_VALIDATOR": "nginx"})
  with pytest.raises(ValueError, match="TFX_TEXT_MODEL_CARD='no'"):
    config_from_env({"TFX_TEXT_MODEL_CARD": "no"})
