"""The pipeline image as Beam's SDK worker pool: every Beam step of the bundled sample run
by the PortableRunner and Beam's job service, with the workers started by
`worker_pool_main` inside the image (podman or docker), as beside a Flink or Spark task
manager. The model must come out as under the DirectRunner.

`make test-kubeflow` runs this on the host, where the container engine is, with the
standard library and pytest only (--noconftest; `make test` skips it, see
conftest.collect_ignore). The pool is `make worker-pool`'s command; both pipeline runs
are `make run-portable --worker-pool-address` and `make run` in the project's environment.
"""
import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

from kubeflow import container_run
from pipeline.runners.worker_pool import PIPELINE_IMAGE

REPO = pathlib.Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "imdb-sentiment"
IMAGE = os.environ.get("IMAGE", PIPELINE_IMAGE)
# The small word-piece bag for one epoch: the Beam steps are under test, not the model.
SETTINGS = ["--data", str(SAMPLE), "--infra-validator", "none", "--no-model-card", "--embedding",
            "minilm-wordpiece-bag", "--epochs", "1"]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _in_environment(*command) -> None:
  done = subprocess.run([str(REPO / "scripts" / "env.sh"), "run", "python", "-m", *command], cwd=REPO,
                        capture_output=True, text=True, timeout=1800)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_image_serves_as_beams_sdk_worker_pool(tmp_path):
  os.environ.setdefault("CONTAINERS_CONF", str(container_run.CONTAINERS_CONF))
  engine = container_run.default_engine()
  if subprocess.run([*engine, "image", "inspect", IMAGE], capture_output=True).returncode != 0:
    pytest.fail(f"no image {IMAGE}: build it first (make image)")
  port, pool_log = _free_port(), tmp_path / "worker_pool.log"
  with open(pool_log, "w") as log:
    # The folders the workers read or write: the data and the run's outputs.
    pool = subprocess.Popen([sys.executable, "-m", "pipeline.runners.worker_pool", "--port", str(port),
                             "--image", IMAGE, str(SAMPLE), str(tmp_path)],
                            cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=log, stderr=subprocess.STDOUT)
  try:
    _in_environment("pipeline.runners.portable", "--worker-pool-address", f"localhost:{port}", "--", "run",
                    "--output-dir", str(tmp_path / "portable"), *SETTINGS)
  finally:
    pool.terminate()
    pool.wait(timeout=60)
  _in_environment("pipeline.cli", "run", "--output-dir", str(tmp_path / "direct"), *SETTINGS)
  through_image, direct = (json.loads((tmp_path / run / "last_run.json").read_text()) for run in ("portable", "direct"))
  assert through_image["blessed"] and through_image["pushed_to"]
  assert through_image["metrics"] == pytest.approx(direct["metrics"], abs=1e-6)
  jobs = (tmp_path / "portable" / "portable" / "job_service.log").read_text()
  assert jobs.count("with state DONE") >= 4, jobs[-3000:]
  pool_output = pool_log.read_text()
  assert f"{engine[0]} run" in pool_output and IMAGE in pool_output   # make worker-pool's command line
  assert "Starting worker with command" in pool_output, pool_output[-3000:]
