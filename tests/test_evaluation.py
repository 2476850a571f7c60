"""The gate as configured for TFMA: for every task kind, the decision metric (accuracy;
multi-label: macro-F1) and AUC each carry the
floor and the no-regression bound against the baseline (the end-to-end behaviour is in
test_gate_regression.py; this catches a bound dropped for one metric of one kind)."""

import pytest
from tensorflow_model_analysis.proto import config_pb2

from components.fitted_gate_evaluator.executor import FIT_TO_DATA, metric_name
from models import task as task_lib
from pipeline import evaluation
from pipeline.config import GateConfig

TASKS = [task_lib.Task(task_lib.BINARY, ("neg", "pos")),
         task_lib.Task(task_lib.MULTI_CLASS, ("a", "b", "c")),
         task_lib.Task(task_lib.MULTI_LABEL, ("a", "b", "c"))]


def _gated(config: config_pb2.EvalConfig) -> dict:
  """(metric name, output name) -> its MetricThreshold, for every thresholded metric."""
  gated = {}
  for spec in config.metrics_specs:
    for metric in spec.metrics:
      for per_slice in metric.per_slice_thresholds:
        key = metric_name(metric)
        assert [s for s in per_slice.slicing_specs] == [config_pb2.SlicingSpec()]  # overall slice only
        gated[(key, spec.output_names[0] if spec.output_names else "")] = per_slice.threshold
  return gated


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.kind)
@pytest.mark.parametrize("absolute", [False, True], ids=["fitted", "absolute"])
def test_accuracy_and_auc_each_have_a_floor_and_a_no_regression_bound(task, absolute):
  """Floors the user set are absolute; unset ones are marked for the Evaluator to fit."""
  min_accuracy, min_auc = (0.6, 0.7) if absolute else (FIT_TO_DATA, FIT_TO_DATA)
  gate = GateConfig(max_accuracy_drop=0.01, max_auc_drop=0.02,
                    **({"min_accuracy": min_accuracy, "min_auc": min_auc} if absolute else {}))
  gated = _gated(evaluation.eval_config(gate, task))
  assert set(gated) == {evaluation.DECISION[task.kind], evaluation.AUC[task.kind]}, gated
  for key, floor, drop in ((evaluation.DECISION[task.kind], min_accuracy, 0.01),
                           (evaluation.AUC[task.kind], min_auc, 0.02)):
    threshold = gated[key]
    assert threshold.value_threshold.lower_bound.value == pytest.approx(floor), key
    change = threshold.change_threshold
    assert change.direction == config_pb2.MetricDirection.HIGHER_IS_BETTER, key
    assert change.absolute.value == pytest.approx(-drop), key
