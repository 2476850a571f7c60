"""One run at a time per pipeline: a second run fails at once, naming the first, and a
killed run leaves no lock behind."""
import signal
import subprocess
import sys

import pytest

from pipeline import run
from pipeline import run_lock
from pipeline.config import REPO_ROOT
from tests.conftest import fast_config


def test_a_second_run_of_the_same_pipeline_is_refused(tiny_imdb, tmp_path):
  config = fast_config(tiny_imdb, tmp_path / "outputs")
  with run_lock.held(config.metadata_path, config.name):
    with pytest.raises(run_lock.PipelineBusyError, match=r"'imdb-sentiment' is already running \(pid \d+"):
      run.run(config)
  assert not (tmp_path / "outputs" / "pipelines").exists(), "nothing may run while another run holds the lock"


def test_other_pipelines_and_output_folders_are_not_blocked(tmp_path):
  with run_lock.held(str(tmp_path / "a" / "metadata.db"), "a"):
    with run_lock.held(str(tmp_path / "b" / "metadata.db"), "b"):
      pass


def test_a_killed_run_leaves_the_lock_free(tmp_path):
  metadata_path = str(tmp_path / "metadata.db")
  code = ("import sys, time; from pipeline import run_lock\n"
          f"with run_lock.held({metadata_path!r}, 'x'):\n  print('held', flush=True); time.sleep(600)")
  holder = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(run_lock.PipelineBusyError, match=f"pid {holder.pid}"):
      with run_lock.held(metadata_path, "x"):
        pass
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  with run_lock.held(metadata_path, "x"):
    pass
