"""Every Beam step of the pipeline through Beam's portability framework, as Flink, Spark
and Dataflow run Python: the PortableRunner, Beam's job service, and SDK workers started
by a worker pool in other processes (--environment_type=EXTERNAL). The project's code is
pickled, staged and run there; the model must come out as under the DirectRunner.

Both runs are the commands a user types (`make run`, `make run-portable`), each in its own
process, as the main job runs."""
import json
import subprocess
import sys

import pytest

from pipeline.config import REPO_ROOT

pytestmark = pytest.mark.slow


def _run(module: str, output_dir, *args) -> dict:
  # The small word-piece bag for one epoch: the Beam steps are under test, not the model.
  done = subprocess.run([sys.executable, "-m", module, *args, "--output-dir", str(output_dir),
                         "--infra-validator", "none", "--no-model-card", "--embedding", "minilm-wordpiece-bag",
                         "--epochs", "1"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  return json.loads((output_dir / "last_run.json").read_text())


def test_the_sample_through_the_portable_runner_matches_the_direct_runner(tmp_path):
  direct = _run("pipeline.cli", tmp_path / "direct", "run")
  through_workers = _run("pipeline.runners.portable", tmp_path / "portable", "--", "run")
  assert through_workers["blessed"] and through_workers["pushed_to"]
  # The same examples, model and metrics; sums combined in another order differ in the 9th digit.
  assert through_workers["metrics"] == pytest.approx(direct["metrics"], abs=1e-6)
  logs = tmp_path / "portable" / "portable"
  # Each Beam step was a job of the job service, run by SDK workers the pool started.
  assert (logs / "job_service.log").read_text().count("with state DONE") >= 4
  assert "Starting worker with command" in (logs / "worker_pool.log").read_text()
