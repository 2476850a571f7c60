"""The compiled Kubeflow spec, run task by task in the pipeline image (no cluster).

`make test-kubeflow` runs this on the host, where the container engine is (it needs the
standard library and pytest only, so it runs with --noconftest; `make test` skips it, see
conftest.collect_ignore). The spec is compiled by the checkout's code, exactly as a user
compiles it; every task then runs in the image under podman or docker through
kubeflow/container_run.py, which does what the KFP launcher and backend do. So a
spec/image mismatch (a module path, a package, a placeholder) fails here.
"""
import json
import os
import pathlib
import re
import subprocess

import pytest

from kubeflow import container_run
from pipeline.runners.worker_pool import PIPELINE_IMAGE

REPO = pathlib.Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("IMAGE", PIPELINE_IMAGE)
SAMPLE = REPO / "data" / "imdb-sentiment"


@pytest.fixture(scope="module")
def engine():
  os.environ.setdefault("CONTAINERS_CONF", str(container_run.CONTAINERS_CONF))
  engine = container_run.default_engine()
  if subprocess.run([*engine, "image", "inspect", IMAGE], capture_output=True).returncode != 0:
    pytest.fail(f"no image {IMAGE}: build it first (make image)")
  return engine


def compile_spec(tmp: pathlib.Path, *extra) -> dict:
  """The spec as a user compiles it: by the checkout's code, in the project's environment."""
  spec = tmp / f"spec{len(list(tmp.glob('spec*.json')))}.json"
  subprocess.run([str(REPO / "scripts" / "env.sh"), "run", "python", "-m", "kubeflow.kubeflow_runner",
                  "--image", IMAGE, "--data", str(SAMPLE), "--root", str(tmp / "root"), "--output", str(spec), *extra],
                 check=True, cwd=REPO)
  return json.loads(spec.read_text())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, engine):
  """The default spec (Vertex AI Pipelines' behaviour: resolver nodes, ExampleGen's
  lifecycle hook), run once on the bundled sample: it must push a blessed model."""
  tmp = tmp_path_factory.mktemp("kfp")
  spec = compile_spec(tmp)
  lines = []
  outputs = container_run.LocalBackend(spec, [str(SAMPLE), str(tmp / "root")], engine, log=lines.append).run()
  return tmp, spec, outputs, lines


def test_first_run_blesses_and_pushes(first_run):
  tmp, _, outputs, _ = first_run
  assert outputs[("latest_blessed_model_resolver-model-resolver", "model")] == []  # no baseline yet
  assert outputs[("Evaluator", "blessing")][0]["metadata"].get("blessed") == 1, outputs[("Evaluator", "blessing")]
  pushed = tmp / "root" / "serving" / "imdb_sentiment"
  versions = [p for p in pushed.iterdir() if p.name.isdigit()]
  assert len(versions) == 1 and (versions[0] / "saved_model.pb").exists(), list(pushed.iterdir())


def test_the_run_ends_with_its_table(first_run):
  """As `make run` does: the verdict, the metrics against their floors, where it pushed."""
  tmp, _, _, lines = first_run
  table = lines[-1]
  assert table.startswith("[kfp-local] the run:"), lines[-3:]
  assert re.search(r"blessed +yes", table) and re.search(r"test binary accuracy +0\.\d+ +floor", table), table
  [pushed] = [p for p in (tmp / "root" / "serving" / "imdb_sentiment").iterdir() if p.name.isdigit()]
  assert re.search(rf"pushed to +{re.escape(str(pushed))}", table), table
  assert re.search(r"infra validation +passed", table) and "model_card.html" in table, table


def test_second_run_judges_against_the_first_runs_model(first_run, engine):
  tmp, spec, first, _ = first_run
  second = container_run.LocalBackend(spec, [str(SAMPLE), str(tmp / "root")], engine).run()
  first_model = first[("Trainer", "model")][0]
  assert [a["uri"] for a in second[("latest_blessed_model_resolver-model-resolver", "model")]] == [first_model["uri"]]
  judged = second[("Evaluator", "blessing")][0]["metadata"]
  assert judged.get("baseline_model_id") == first_model["name"], judged


def test_open_source_backend_spec_with_the_baseline_imported(first_run, engine):
  """The open-source backend refuses resolver nodes and skips lifecycle hooks; the spec
  compiled with --baseline MODEL_URI (an importer node) runs there and is judged against
  that model."""
  tmp, spec, first, _ = first_run
  with pytest.raises(container_run.SpecError, match="rejects resolver nodes"):
    container_run.LocalBackend(spec, [], engine, backend=container_run.KFP_OSS).plan()
  first_model = first[("Trainer", "model")][0]
  oss_spec = compile_spec(tmp, "--baseline", first_model["uri"])
  outputs = container_run.LocalBackend(oss_spec, [str(SAMPLE), str(tmp / "root")], engine,
                                       backend=container_run.KFP_OSS).run()
  judged = outputs[("Evaluator", "blessing")][0]["metadata"]
  assert judged.get("baseline_model_id") == first_model["name"], judged
