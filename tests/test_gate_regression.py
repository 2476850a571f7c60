"""The Evaluator as the gate to production: a model worse than the last blessed one is
not blessed and not pushed, and the run's table says which metric failed and why."""
import dataclasses
import pathlib
import random
import shutil

import pytest

from pipeline import run
from pipeline.config import GateConfig
from tests.conftest import fast_config, make_aclimdb, pushed_versions

pytestmark = pytest.mark.slow


def shuffle_train_labels(source: pathlib.Path, target: pathlib.Path, seed: int = 7) -> pathlib.Path:
  """A copy of an aclImdb folder whose train reviews sit in random class folders
  (the test split untouched): a model trained on it learns nothing."""
  shutil.copytree(source, target)
  files = sorted((target / "train").glob("*/*.txt"))
  rng = random.Random(seed)
  for path in files:
    label = rng.choice(["neg", "pos"])
    if path.parent.name != label:
      path.rename(target / "train" / label / path.name)
  return target


def test_a_worse_model_is_not_blessed_and_not_pushed(tmp_path):
  good_data = make_aclimdb(tmp_path / "aclImdb", {"train": 200, "test": 50})
  bad_data = shuffle_train_labels(good_data, tmp_path / "aclImdb_shuffled")
  # Floors any model passes: only the comparison with the baseline can refuse the second.
  gate = GateConfig(min_accuracy=0.0, min_auc=0.0, max_accuracy_drop=0.01, max_auc_drop=0.01)
  config = fast_config(good_data, tmp_path / "out", gate=gate)
  config = config.replace(model=dataclasses.replace(config.model, epochs=2))

  first = run.run(config)
  assert first.blessed and first.pushed_to, first.table()
  assert first.metrics["binary_accuracy"] > 0.6, first.table()  # a real model, worth protecting
  versions = pushed_versions(config)
  serving_files = sorted(p.relative_to(config.serving_model_dir) for p in pathlib.Path(config.serving_model_dir).rglob("*"))

  worse = run.run(config.replace(data=dataclasses.replace(config.data, path=str(bad_data))))
  table = worse.table()
  assert not worse.blessed, table
  assert worse.pushed_to is None and "nothing pushed" in table
  assert pushed_versions(config) == versions
  assert sorted(p.relative_to(config.serving_model_dir)
                for p in pathlib.Path(config.serving_model_dir).rglob("*")) == serving_files
  # The table names the failed metric, its value, the baseline's and the threshold.
  failed = [line for line in worse.failures if "change vs. baseline" in line]
  assert failed, table
  assert any(line.startswith(("binary_accuracy", "auc")) for line in failed), table
  assert all("required >= -0.0100" in line and "candidate" in line and "baseline" in line for line in failed), table
  assert worse.metrics["binary_accuracy"] < first.metrics["binary_accuracy"] - 0.01 or \
      worse.metrics["auc"] < first.metrics["auc"] - 0.01
