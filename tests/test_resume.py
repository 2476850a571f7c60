"""--resume: a run killed during the Trainer starts again at the Trainer, and what
invalidates the reuse (settings, the curated schema, code, data) re-runs what it should.

The kill is a real SIGKILL of `python -m pipeline.cli run`, sent once the Trainer has
started; which components ran and which were reused is read from ML Metadata.
"""
import dataclasses
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from pipeline import pipeline as pipeline_def
from pipeline import run
from pipeline import sources
from pipeline.config import REPO_ROOT
from tests.conftest import cli_args, fast_config, make_aclimdb, pushed_versions

pytestmark = pytest.mark.slow

UPSTREAM = ("TextExampleGen", "StatisticsGen", "CuratedSchemaGen", "ExampleValidator", "AnomaliesGate", "Transform")
DOWNSTREAM = ("Trainer", "Evaluator", "Pusher")
CACHED = metadata_store_pb2.Execution.CACHED
COMPLETE = metadata_store_pb2.Execution.COMPLETE


def latest_run_states(config) -> dict:
  """{node id: execution state} of the newest pipeline run recorded in ML Metadata."""
  with metadata.Metadata(metadata.sqlite_metadata_connection_config(config.metadata_path)) as m:
    latest = max(m.store.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)
    node_type = m.store.get_context_type("node")
    states = {}
    for execution in m.store.get_executions_by_context(latest.id):
      node, = [c.name for c in m.store.get_contexts_by_execution(execution.id) if c.type_id == node_type.id]
      states[node.split(".", 1)[1]] = execution.last_known_state
    return states


def _kill_once_the_trainer_starts(config) -> list:
  process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", *cli_args(config)], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
  lines = []
  try:
    for line in process.stdout:
      lines.append(line)
      if line.startswith("[pipeline] Trainer ..."):
        os.killpg(process.pid, signal.SIGKILL)
        break
  finally:
    if process.poll() is None:
      os.killpg(process.pid, signal.SIGKILL)
    process.wait()
  assert any(l.startswith("[pipeline] Trainer ...") for l in lines), "".join(lines)
  return lines


@pytest.fixture(scope="module")
def killed_then_resumed(tmp_path_factory):
  root = tmp_path_factory.mktemp("resume")
  schema = root / "schema.pbtxt"
  shutil.copy(REPO_ROOT / "schemas" / "imdb-sentiment" / "schema.pbtxt", schema)
  config = fast_config(make_aclimdb(root / "aclImdb", {"train": 40, "test": 20}), root / "outputs",
                       schema_path=str(schema))
  _kill_once_the_trainer_starts(config)
  killed = latest_run_states(config)
  resumed = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", *cli_args(config), "--resume"],
                           cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert resumed.returncode == 0, resumed.stdout + resumed.stderr
  return config, killed, resumed.stdout


def test_the_killed_run_stopped_in_the_trainer(killed_then_resumed):
  config, killed, _ = killed_then_resumed
  assert all(killed[node] == COMPLETE for node in UPSTREAM), killed
  assert killed.get("Trainer") != COMPLETE and "Pusher" not in killed


def test_resume_reuses_what_completed_and_starts_at_the_trainer(killed_then_resumed):
  config, _, output = killed_then_resumed
  states = latest_run_states(config)
  assert {node: states[node] for node in UPSTREAM} == {node: CACHED for node in UPSTREAM}, states
  assert all(states[node] == COMPLETE for node in DOWNSTREAM), states
  assert len(pushed_versions(config)) == 1
  assert "[pipeline] Transform reused" in output and "[pipeline] Trainer done" in output, output


def test_a_changed_setting_reruns_from_the_component_it_reaches(killed_then_resumed):
  config, _, _ = killed_then_resumed
  run.run(config.replace(resume=True, model=dataclasses.replace(config.model, epochs=2)))
  states = latest_run_states(config)
  assert all(states[node] == CACHED for node in UPSTREAM), states
  assert all(states[node] == COMPLETE for node in DOWNSTREAM), states


def test_an_edited_curated_schema_reruns_everything(killed_then_resumed):
  config, _, _ = killed_then_resumed
  with open(config.schema_path, "a") as f:
    f.write("\n# reviewed again\n")
  run.run(config.replace(resume=True))
  states = latest_run_states(config)
  assert all(states[node] == COMPLETE for node in UPSTREAM + DOWNSTREAM), states


def test_changed_data_reruns_everything(killed_then_resumed):
  config, _, _ = killed_then_resumed
  review = sorted(pathlib.Path(config.data.path, "train", "pos").glob("*.txt"))[0]
  review.write_text(review.read_text() + " One more sentence.")
  run.run(config.replace(resume=True))
  states = latest_run_states(config)
  assert states["CuratedSchemaGen"] == CACHED, states  # the schema does not depend on the data
  assert all(states[node] == COMPLETE for node in UPSTREAM + DOWNSTREAM if node != "CuratedSchemaGen"), states


def test_the_sources_hash_sees_code_and_schema_edits(tmp_path):
  for package in sources.PACKAGES:
    shutil.copytree(REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
  (tmp_path / sources.LOCK_FILE).parent.mkdir()
  shutil.copy(REPO_ROOT / sources.LOCK_FILE, tmp_path / sources.LOCK_FILE)
  schema = tmp_path / "schema.pbtxt"
  schema.write_text("feature { name: 'text' }\n")
  before = sources.sources_sha256(str(schema), root=tmp_path)
  assert sources.sources_sha256(str(schema), root=tmp_path) == before
  trainer = tmp_path / "models" / "trainer.py"
  trainer.write_text(trainer.read_text() + "\n# a code change\n")
  after_code = sources.sources_sha256(str(schema), root=tmp_path)
  schema.write_text("feature { name: 'text' }\n# edited\n")
  after_schema = sources.sources_sha256(str(schema), root=tmp_path)
  assert len({before, after_code, after_schema}) == 3


def test_caching_is_off_unless_resume(tmp_path):
  config = fast_config(make_aclimdb(tmp_path / "aclImdb", {"train": 4, "test": 2}), tmp_path / "outputs")
  config, dataset, task = run.prepare(config)
  assert config.sources_sha256
  assert not pipeline_def.create_pipeline(config, dataset, task).enable_cache
  assert pipeline_def.create_pipeline(config.replace(resume=True), dataset, task).enable_cache
