"""The gate's floors fitted to the test split: the trivial predictors' values, the margin,
the EvalConfig the Evaluator runs with; then, through the whole pipeline, a good model on
a hard multi-label sample blessed and one trained on shuffled labels refused."""
import csv
import dataclasses
import math
import random

import pytest
from tensorflow_model_analysis.proto import config_pb2

from components.fitted_gate_evaluator import floors
from components.fitted_gate_evaluator.executor import FIT_TO_DATA, fit
from models import task as task_lib
from pipeline import evaluation, run
from pipeline.config import GateConfig, REPO_ROOT
from tests.conftest import fast_config


def test_accuracy_floor_is_the_majority_share_plus_three_standard_errors():
  labels = [("pos",)] * 600 + [("neg",)] * 400
  floor = floors.accuracy_floor("binary_accuracy", labels, multi_label=False)
  assert floor.trivial == pytest.approx(0.6) and floor.trivial_predictor == "majority class pos"
  assert floor.margin == pytest.approx(3 * math.sqrt(0.6 * 0.4 / 1000))
  assert floor.value == pytest.approx(0.6 + floor.margin)
  # Four times the examples: half the margin, never under MIN_MARGIN.
  assert floors.accuracy_floor("a", labels * 4, False).margin == pytest.approx(floor.margin / 2)
  assert floors.accuracy_floor("a", [("x",)] * 9999 + [("y",)], False).margin == floors.MIN_MARGIN


def test_subset_accuracy_floor_is_the_most_frequent_label_set():
  labels = [("b", "a")] * 3 + [("a", "b")] * 2 + [()] * 4 + [("c",)] * 1
  floor = floors.accuracy_floor("subset_accuracy", labels, multi_label=True)
  assert floor.trivial == pytest.approx(0.5)  # {a, b} in either order: 5 of 10
  assert floor.trivial_predictor == "most frequent label set {a, b}"


def test_f1_floor_is_every_judged_label_predicted_for_every_text():
  labels = [("a",)] * 50 + [("a", "b")] * 30 + [()] * 20   # a: 0.8 of texts, b: 0.3
  floor = floors.f1_floor("macro_f1", labels, ["a", "b"])
  f1 = {"a": 2 * 0.8 / 1.8, "b": 2 * 0.3 / 1.3}                 # precision p, recall 1
  assert floor.trivial == pytest.approx((f1["a"] + f1["b"]) / 2)
  assert floor.trivial_predictor == "every label predicted for every text"
  error = math.sqrt(sum((2 / (1 + p) ** 2) ** 2 * p * (1 - p) / 100 for p in (0.8, 0.3))) / 2
  assert floor.margin == pytest.approx(3 * error)
  # Only the labels the macro average takes: a rare one left out lowers nothing.
  assert floors.f1_floor("macro_f1", labels, ["a"]).trivial == pytest.approx(f1["a"])


def test_auc_floor_is_chance_plus_the_null_standard_error_of_the_judged_labels():
  labels = [("a",)] * 30 + [("b",)] * 70
  binary = floors.auc_floor("auc", labels, ["b"])
  assert binary.trivial == 0.5
  assert binary.margin == pytest.approx(3 * math.sqrt(101 / (12 * 70 * 30)))
  judged, left_out = floors.judged_labels(labels, ["a", "b", "c"])
  assert judged == ["a", "b"] and left_out == {"c": 0}
  macro = floors.auc_floor("macro_auc", labels, judged)
  assert macro.margin == pytest.approx(3 * math.sqrt(2 * 101 / (12 * 70 * 30)) / 2)


def _bounds(config):
  return {(m.class_name, m.config): p.threshold.value_threshold.lower_bound.value
          for s in config.metrics_specs for m in s.metrics for p in m.per_slice_thresholds}


def test_the_evaluators_config_gets_fitted_floors_and_judged_macro_averages():
  task = task_lib.Task(task_lib.MULTI_LABEL, ("a", "b", "rare"))
  config = evaluation.eval_config(GateConfig(), task)
  assert set(_bounds(config).values()) == {FIT_TO_DATA}
  label_sets = [("a",)] * 50 + [("a", "b")] * 30 + [()] * 20
  fitted, record = fit(config, task, label_sets)
  bounds = _bounds(fitted)
  f1 = floors.f1_floor("macro_f1", label_sets, ["a", "b"])
  auc = floors.auc_floor("macro_auc", label_sets, ["a", "b"])
  assert sorted(bounds.values()) == pytest.approx(sorted([f1.value, auc.value]))
  assert set(record["floors"]) == {"macro_f1", "macro_auc"}
  # Subset accuracy is reported beside its trivial predictor, not gated.
  assert record["ungated"]["subset_accuracy"]["trivial"] == pytest.approx(0.5)
  assert record["left_out_of_macro_averages"] == {"rare": 0}
  macro_specs = [s for s in fitted.metrics_specs if s.aggregate.macro_average]
  assert macro_specs and all(dict(s.aggregate.class_weights) == {0: 1.0, 1: 1.0} for s in macro_specs)
  # Absolute floors the user set are left as they are.
  absolute = evaluation.eval_config(GateConfig(min_accuracy=0.4, min_auc=0.8), task)
  assert sorted(_bounds(fit(absolute, task, label_sets)[0]).values()) == pytest.approx([0.4, 0.8])


QUESTION_WORDS = ("what", "who", "how", "where", "when", "which", "why", "name")


def _question_word(text: str) -> str:
  first = (text.split() or [""])[0].lower()
  return first if first in QUESTION_WORDS else "other"


def _question_tags(rows_from, target, shuffle_seed=None):
  """A hard multi-label set cut from the TREC sample: each question tagged with its
  coarse class and its question word (what, who, how, ...): many label sets, none common."""
  rng = random.Random(shuffle_seed)
  target.mkdir(parents=True)
  for split in ("train", "test"):
    with open(rows_from / f"{split}.csv", newline="") as f:
      rows = list(csv.DictReader(f))
    tags = [f"{r['coarse']}|{_question_word(r['text'])}" for r in rows]
    if shuffle_seed is not None and split == "train":
      rng.shuffle(tags)
    with open(target / f"{split}.csv", "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(["text", "labels"])
      writer.writerows((r["text"], t) for r, t in zip(rows, tags))
  return target


@pytest.mark.slow
@pytest.mark.parametrize("shuffled", [False, True], ids=["learned", "shuffled-labels"])
def test_fitted_floors_bless_a_good_hard_multi_label_model_and_refuse_chance(shuffled, tmp_path):
  data = _question_tags(REPO_ROOT / "data" / "trec", tmp_path / "tags", shuffle_seed=7 if shuffled else None)
  config = fast_config(data, tmp_path / "out", name="question-tags", gate=GateConfig())
  config = config.replace(data=dataclasses.replace(config.data, path=str(data), label_column="labels"),
                          model=dataclasses.replace(config.model, epochs=8, learning_rate=3e-3))
  result = run.run(config)
  floor = result.fitted_floors["floors"]["macro_f1"]
  subset = result.fitted_floors["ungated"]["subset_accuracy"]
  assert subset["trivial"] < 0.3 and result.task["kind"] == task_lib.MULTI_LABEL, result.table()
  assert "floor" in result.table() and floor["trivial_predictor"] in result.table()
  assert subset["trivial_predictor"] in result.table()
  if shuffled:
    assert not result.blessed and result.pushed_to is None, result.table()
    assert any(line.startswith(("macro_f1 value", "macro_auc value")) for line in result.failures)
  else:
    assert result.blessed and result.pushed_to, result.table()
    assert result.metrics["macro_f1"] > floor["floor"]
    assert result.auc > result.fitted_floors["floors"]["macro_auc"]["floor"]
