"""`tfx pipeline create` + `tfx run create` with the local engine, as docs/running.md shows."""
import os
import subprocess
import sys

import pytest

from pipeline.config import REPO_ROOT
from tests.conftest import make_aclimdb

pytestmark = pytest.mark.slow


def test_tfx_cli_local_engine(tmp_path):
  data = make_aclimdb(tmp_path / "aclImdb", {"train": 30, "test": 10})
  env = dict(os.environ, HOME=str(tmp_path / "home"), TFX_TEXT_DATA=str(data),
             TFX_TEXT_OUTPUT_DIR=str(tmp_path / "out"), TFX_TEXT_NAME="cli-test", TFX_TEXT_EPOCHS="1",
             TFX_TEXT_EMBEDDING="minilm-wordpiece-bag")
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
