"""SubsetAccuracy: a TFMA metric for multi-label models, the share of examples whose every
label decision is right (scikit-learn's accuracy_score on multi-hot rows).

TFMA's own ExactMatch compares flattened values, one label at a time, which is not
subset accuracy; this metric keeps each example's label vector whole. The Evaluator
imports it by module path (pipeline/evaluation.py), as TFMA does for custom metrics.
"""
from typing import Dict, Iterable, Optional

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

NAME = "subset_accuracy"


class SubsetAccuracy(metric_types.Metric):
  """Share of examples with every label predicted right: prediction >= threshold
  (0.5 on the model's 0/1 `decisions` output) equals the multi-hot label, element-wise."""

  def __init__(self, name: str = NAME, threshold: float = 0.5):
    super().__init__(metric_util.merge_per_key_computations(_subset_accuracy), name=name, threshold=threshold)


metric_types.register_metric(SubsetAccuracy)


def _subset_accuracy(name: str = NAME, threshold: float = 0.5,
                     eval_config: Optional[config_pb2.EvalConfig] = None, model_name: str = "",
                     output_name: str = "", sub_key=None, aggregation_type=None, class_weights=None,
                     example_weighted: bool = False) -> metric_types.MetricComputations:
  key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                               sub_key=sub_key, example_weighted=example_weighted)
  return [metric_types.MetricComputation(
      keys=[key], preprocessors=None,
      combiner=_Combiner(key, eval_config, threshold, example_weighted))]


class _Combiner(beam.CombineFn):

  def __init__(self, key, eval_config, threshold: float, example_weighted: bool):
    self._key = key
    self._eval_config = eval_config
    self._threshold = threshold
    self._example_weighted = example_weighted

  def create_accumulator(self):
    return [0.0, 0.0]  # weighted exact rows, weighted rows

  def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
    for label, prediction, weight in metric_util.to_label_prediction_example_weight(
        element, eval_config=self._eval_config, model_name=self._key.model_name,
        output_name=self._key.output_name, example_weighted=self._example_weighted, flatten=False):
      weight = float(metric_util.safe_to_scalar(weight))
      exact = np.array_equal(np.asarray(label, dtype=float).ravel() >= 0.5,
                             np.asarray(prediction, dtype=float).ravel() >= self._threshold)
      accumulator[0] += weight * exact
      accumulator[1] += weight
    return accumulator

  def merge_accumulators(self, accumulators: Iterable[list]):
    exact, total = 0.0, 0.0
    for a in accumulators:
      exact, total = exact + a[0], total + a[1]
    return [exact, total]

  def extract_output(self, accumulator) -> Dict[metric_types.MetricKey, float]:
    return {self._key: accumulator[0] / accumulator[1] if accumulator[1] else float("nan")}
