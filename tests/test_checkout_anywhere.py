"""The checkout may live anywhere (here a fresh clone under a temporary folder) and the
data anywhere outside it: the CLI, run from the clone, reads its own schemas and
samples by their place in the clone, writes under it, and reads the user's data by path."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from pipeline.config import REPO_ROOT

pytestmark = pytest.mark.slow


def test_a_clone_in_a_temporary_folder_runs_on_data_outside_it(tmp_path):
  if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
    pytest.skip("needs git and a git checkout to clone")
  clone = tmp_path / "somewhere else" / "checkout"
  subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
  for path in subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "--modified"], cwd=REPO_ROOT,
                             capture_output=True, text=True, check=True).stdout.split():
    target = clone / path  # this working tree's uncommitted files too, so the clone runs this code
    if (REPO_ROOT / path).is_file():
      target.parent.mkdir(parents=True, exist_ok=True)
      shutil.copy(REPO_ROOT / path, target)
  data = tmp_path / "my data" / "questions"
  shutil.copytree(REPO_ROOT / "data" / "trec", data)
  env = dict(os.environ, PYTHONPATH=str(clone))
  done = subprocess.run(
      [sys.executable, "-m", "pipeline.cli", "run", "--data", str(data), "--label-column", "coarse", "--epochs", "1",
       "--embedding", "minilm-wordpiece-bag", "--min-accuracy", "0", "--min-auc", "0", "--infra-validator", "none",
       "--no-model-card"],
      cwd=clone, env=env, capture_output=True, text=True, timeout=900)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  summary = json.loads((clone / "outputs" / "last_run.json").read_text())
  assert summary["pipeline_name"] == "questions" and summary["task"]["kind"] == "multi-class"
  assert summary["pushed_to"].startswith(str(clone / "outputs" / "serving" / "questions"))
  assert "schemas/trec" not in done.stdout  # no curated schema named "questions": inferred
  assert "inferred by SchemaGen" in done.stdout
