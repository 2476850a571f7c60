"""Every Beam step of the pipeline through Beam's portability framework, as Flink, Spark
and Dataflow run Python: the PortableRunner, Beam's job service, and SDK workers started
by a worker pool in other processes (--environment_type=EXTERNAL). The project's code is
pickled, staged and run there; the model must come out as under the DirectRunner.

The portable run is the command a user types (`make run-portable`), in its own process; the
DirectRunner's run is conftest's blessed_sample, with the same settings, which the scoring
and drift tests read too."""
import subprocess
import sys

import pytest

from pipeline.config import REPO_ROOT
from pipeline.paths import last_run
from tests.conftest import cli_args

# In make test-kubeflow, not make test: at 135-145 s it is what puts make test past 15 minutes,
# and tests/test_beam_orchestrator.py still pickles every step to worker processes there.
pytestmark = [pytest.mark.slow, pytest.mark.portable]


def _run_portable(config) -> dict:
  """make run-portable with config's settings (tests/conftest.py: fast_config)."""
  done = subprocess.run([sys.executable, "-m", "pipeline.runners.portable", "--", "run", *cli_args(config)],
                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  return last_run(config.output_dir)


def test_the_sample_through_the_portable_runner_matches_the_direct_runner(blessed_sample, tmp_path):
  config, direct, _ = blessed_sample
  through_workers = _run_portable(config.replace(output_dir=str(tmp_path / "portable")))
  assert through_workers["blessed"] and through_workers["pushed_to"]
  # The same examples, model and metrics; sums combined in another order differ in the 9th digit.
  assert through_workers["metrics"] == pytest.approx(direct["metrics"], abs=1e-6)
  logs = tmp_path / "portable" / "portable"
  # Each Beam step was a job of the job service, run by SDK workers the pool started.
  assert (logs / "job_service.log").read_text().count("with state DONE") >= 4
  assert "Starting worker with command" in (logs / "worker_pool.log").read_text()
