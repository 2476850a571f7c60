"""Shared fixtures: small aclImdb-layout datasets cut from the bundled sample."""
import dataclasses
import pathlib
import random
import shutil
import subprocess
import sys

import pytest

from pipeline import run
from pipeline.config import NO_INFRA_VALIDATION, DataConfig, GateConfig, PipelineConfig, REPO_ROOT
from pipeline.paths import last_run

SAMPLE = REPO_ROOT / "data" / "imdb-sentiment"

# Runs on the host, where the container engine is: `make test-kubeflow`.
collect_ignore = ["test_kubeflow_container.py", "test_worker_pool_container.py"]

POSITIVE = "An absolutely wonderful film: brilliant acting, a moving story and a beautiful score. I loved every minute and would happily watch it again."
NEGATIVE = "A terrible, boring mess. The acting was awful, the plot made no sense and I wanted my money back. The worst film I have seen in years."


def make_aclimdb(root: pathlib.Path, per_class: dict) -> pathlib.Path:
  """Copies the first N reviews of each split/class of the sample into root."""
  for split, n in per_class.items():
    for label in ("neg", "pos"):
      target = root / split / label
      target.mkdir(parents=True)
      for path in sorted((SAMPLE / split / label).glob("*.txt"))[:n]:
        shutil.copy(path, target / path.name)
  return root


def pytest_collection_modifyitems(items):
  """The modules that run the whole pipeline first, so that under pytest-xdist (make test:
  -n 2 --dist loadfile, a module whole on one worker) the last to finish is a short one."""
  slow_modules = {item.module.__name__ for item in items if item.get_closest_marker("slow")}
  items.sort(key=lambda item: item.module.__name__ not in slow_modules)   # stable: each module stays whole


# Modules that read one session-scoped run (conftest's blessed_sample): under pytest-xdist
# one worker takes them all, so the run is made once. Paths as in pytest's node ids.
SHARED_RUN_MODULES = {module: "blessed_sample" for module in
                      ("tests/test_score.py", "tests/test_drift.py", "tests/test_portable_runner.py",
                       "tests/test_beam_orchestrator.py")}


def pytest_xdist_make_scheduler(config, log):
  """xdist's --dist loadfile, with the modules of SHARED_RUN_MODULES as one unit. (xdist's
  --dist loadgroup would say this with marks, but is inert under pytest 9: it sets
  item._nodeid, from which pytest 9 no longer derives nodeid.)"""
  from xdist.scheduler import LoadFileScheduling  # pylint: disable=import-outside-toplevel

  class SharedRunScheduling(LoadFileScheduling):
    def _split_scope(self, nodeid: str) -> str:
      module = super()._split_scope(nodeid)
      return SHARED_RUN_MODULES.get(module, module)

  return SharedRunScheduling(config, log)


# Folders of session-scoped fixtures: kept when the module that first asked for them ends.
_SESSION_FOLDERS: set = set()


def session_folder(tmp_path_factory, name: str) -> pathlib.Path:
  folder = tmp_path_factory.mktemp(name)
  _SESSION_FOLDERS.add(folder)
  return folder


@pytest.fixture(scope="module", autouse=True)
def _free_disk_after_each_module(request, tmp_path_factory):
  """Deletes the temporary folders a test module made once it ends, unless one of its
  tests failed: a pipeline run leaves models of up to ~300 MB (and their pushed copies),
  and pytest keeps every folder until the session ends, which filled CI's disk."""
  base = tmp_path_factory.getbasetemp()
  before = set(base.iterdir())
  failed = request.session.testsfailed
  yield
  if request.session.testsfailed == failed:
    for folder in set(base.iterdir()) - before - _SESSION_FOLDERS:
      shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> pathlib.Path:
  """Where tests leave files for a person to look at (a report screenshot, an executed
  notebook): under pytest's temporary folder, never the checkout. Keep them with
  PYTEST_ARGS="--basetemp=DIR"."""
  return session_folder(tmp_path_factory, "artifacts")


@pytest.fixture
def tiny_imdb(tmp_path) -> pathlib.Path:
  return make_aclimdb(tmp_path / "aclImdb", {"train": 40, "test": 20})


def fast_config(data_path, output_dir, name="imdb-sentiment", **changes) -> PipelineConfig:
  """One short epoch and floors any model passes: for tests of the plumbing. The name
  picks the curated schema (schemas/<name>/) and the TF Serving model name. No infra
  validation (a server process per run) and no model card (BulkInferrer on the test split):
  the main-job test, tests/test_infra_validator.py and tests/test_task_kinds_e2e.py run them."""
  base = PipelineConfig(name=name, output_dir=str(output_dir), data=DataConfig(path=str(data_path)),
                        infra_validator=NO_INFRA_VALIDATION, model_card=False,
                        gate=GateConfig(min_accuracy=0.0, min_auc=0.0, max_accuracy_drop=1.0, max_auc_drop=1.0))
  # The small word-piece bag keeps plumbing tests fast; the default embedding is run by
  # the main-job test (test_pipeline_e2e.py) and the benchmarks.
  base = base.replace(model=dataclasses.replace(base.model, epochs=1, batch_size=16,
                                                embedding_handle="minilm-wordpiece-bag", dropout=0.0))
  return base.replace(**changes)


def cli_args(config: PipelineConfig) -> list:
  """`make run`'s flags for a fast_config (its gate's drop limits aside: they need a baseline)."""
  model = config.model
  return ["--data", config.data.path, "--output-dir", config.output_dir, "--name", config.name,
          *(["--schema", config.schema_path] if config.schema_path else []),
          "--embedding", model.embedding_handle, "--epochs", str(model.epochs), "--batch-size", str(model.batch_size),
          "--dropout", str(model.dropout), "--min-accuracy", str(config.gate.min_accuracy),
          "--min-auc", str(config.gate.min_auc), "--infra-validator", config.infra_validator,
          *([] if config.model_card else ["--no-model-card"])]


@pytest.fixture(scope="session")
def blessed_sample(tmp_path_factory):
  """(config, last_run.json, the command's output) of one fast run on the bundled sample,
  blessed and pushed: for the steps that start from a blessed model (scoring, drift), the
  DirectRunner side of the portable-runner test, and the Beam orchestrator's test. Made
  by `make run-beam`'s command in a process of its own: BeamDagRunner, every Beam step on
  the DirectRunner's 2 worker processes, so the project's code is pickled to them."""
  config = fast_config(SAMPLE, session_folder(tmp_path_factory, "blessed-sample"))
  done = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--runner", "beam", *cli_args(config)],
                        cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  result = last_run(config.output_dir)
  assert done.returncode == 0 and result["blessed"] and result["pushed_to"], done.stdout[-3000:] + done.stderr[-3000:]
  return config, result, done.stdout


def pushed_versions(config: PipelineConfig) -> list:
  base = pathlib.Path(config.serving_model_dir)
  return sorted(p.name for p in base.iterdir()) if base.exists() else []


def shuffle_train_labels(source: pathlib.Path, target: pathlib.Path, seed: int = 7) -> pathlib.Path:
  """A copy of an aclImdb folder whose train reviews sit in random class folders
  (the test split untouched): a model trained on it learns nothing."""
  shutil.copytree(source, target)
  rng = random.Random(seed)
  for path in sorted((target / "train").glob("*/*.txt")):
    label = rng.choice(["neg", "pos"])
    if path.parent.name != label:
      path.rename(target / "train" / label / path.name)
  return target


def serving_files(config):
  base = pathlib.Path(config.serving_model_dir)
  return sorted(p.relative_to(base) for p in base.rglob("*"))


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory):
  """A good model, blessed and pushed; then one trained on shuffled labels."""
  root = session_folder(tmp_path_factory, "gate")
  good_data = make_aclimdb(root / "aclImdb", {"train": 120, "test": 40})
  bad_data = shuffle_train_labels(good_data, root / "aclImdb_shuffled")
  # Floors any model passes: only the comparison with the baseline can refuse the second.
  gate = GateConfig(min_accuracy=0.0, min_auc=0.0, max_accuracy_drop=0.01, max_auc_drop=0.01)
  config = fast_config(good_data, root / "out", gate=gate)
  config = config.replace(model=dataclasses.replace(config.model, epochs=2))
  first = run.run(config)
  pushed_after_first = (pushed_versions(config), serving_files(config))
  worse = run.run(config.replace(data=dataclasses.replace(config.data, path=str(bad_data))))
  return config, first, worse, pushed_after_first
