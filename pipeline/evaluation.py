"""How a model is judged: the Evaluator's TFMA config for each task kind, and its gate.

The gate judges two metrics on the test split, one of the model's decisions and one of
its ranking; it blesses only when both clear their floors and lose at most the allowed
drop against the same task's last blessed model. Floors not set with --min-accuracy /
--min-auc are fitted to the test split by the Evaluator (components/fitted_gate_evaluator):
a margin above a trivial predictor. Definitions:
  binary       decisions: BinaryAccuracy at 0.5; ranking: ROC AUC of P(labels[1])
  multi-class  decisions: top-1 (SparseCategoricalAccuracy); ranking: macro one-vs-rest ROC AUC
  multi-label  decisions: macro-F1 at the decision thresholds (the `decisions` output);
               ranking: macro ROC AUC over labels. Also reported, ungated: subset accuracy
               (every label's decision right; pipeline/subset_accuracy.py), micro AUC, and
               precision, recall and F1, micro and macro.
Why macro-F1 and not subset accuracy for multi-label: the thresholds are chosen on eval
for each label's F1 (models/thresholds.py), which trades exact label sets for rare labels
found; on GoEmotions the best model (macro-F1 0.4642) had subset accuracy 0.3059, one
point above predicting {neutral} for every text (docs/results.md). A gate on subset
accuracy refused it for what its thresholds were chosen to do.
Thresholds judge the overall slice only (AUC is undefined on one-class slices).
"""
import json

from tensorflow_model_analysis.proto import config_pb2

from components.fitted_gate_evaluator.executor import FIT_TO_DATA
from models import features
from models import task as task_lib
from pipeline.config import GateConfig

SUBSET_ACCURACY_MODULE = "pipeline.subset_accuracy"

# (metric name, TFMA output name) per kind: the summary and the benchmarks read these.
# Exact-match accuracy, reported for every kind (gated for binary and multi-class).
ACCURACY = {task_lib.BINARY: ("binary_accuracy", ""),
            task_lib.MULTI_CLASS: ("sparse_categorical_accuracy", ""),
            task_lib.MULTI_LABEL: ("subset_accuracy", features.DECISIONS_OUTPUT)}
# The gated metrics: of the decisions (floor: --min-accuracy) and of the ranking (--min-auc).
DECISION = {task_lib.BINARY: ACCURACY[task_lib.BINARY],
            task_lib.MULTI_CLASS: ACCURACY[task_lib.MULTI_CLASS],
            task_lib.MULTI_LABEL: ("macro_f1", features.DECISIONS_OUTPUT)}
AUC = {task_lib.BINARY: ("auc", ""),
       task_lib.MULTI_CLASS: ("macro_auc", ""),
       task_lib.MULTI_LABEL: ("macro_auc", features.PROBABILITY_OUTPUT)}


def _overall_threshold(floor: float, max_drop: float) -> list:
  return [config_pb2.PerSliceMetricThreshold(
      slicing_specs=[config_pb2.SlicingSpec()],
      threshold=config_pb2.MetricThreshold(
          value_threshold=config_pb2.GenericValueThreshold(lower_bound={"value": floor}),
          change_threshold=config_pb2.GenericChangeThreshold(
              direction=config_pb2.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_drop})))]


def _metric(class_name: str, name: str = "", thresholds=None, **config) -> config_pb2.MetricConfig:
  values = dict(config, **({"name": name} if name else {}))
  return config_pb2.MetricConfig(class_name=class_name, config=json.dumps(values) if values else "",
                           per_slice_thresholds=thresholds or [])


def _macro(task: task_lib.Task) -> config_pb2.AggregationOptions:
  # Equal class weights: the plain mean over the labels (TFMA needs the classes listed).
  return config_pb2.AggregationOptions(macro_average=True,
                                       class_weights={i: 1.0 for i in range(len(task.labels))})


def _per_class(task: task_lib.Task) -> config_pb2.BinarizationOptions:
  return config_pb2.BinarizationOptions(class_ids={"values": list(range(len(task.labels)))})


def metrics_specs(gate: GateConfig, task: task_lib.Task) -> list:
  fitted = lambda floor: FIT_TO_DATA if floor is None else floor  # noqa: E731
  decision_gate = _overall_threshold(fitted(gate.min_accuracy), gate.max_accuracy_drop)
  auc_gate = _overall_threshold(fitted(gate.min_auc), gate.max_auc_drop)
  if task.kind == task_lib.BINARY:
    return [config_pb2.MetricsSpec(metrics=[
        _metric("ExampleCount"),
        _metric("BinaryAccuracy", thresholds=decision_gate),
        _metric("AUC", thresholds=auc_gate),
        _metric("AUCPrecisionRecall"), _metric("Precision"), _metric("Recall"),
        _metric("MeanLabel"), _metric("MeanPrediction"), _metric("Calibration"),
        config_pb2.MetricConfig(class_name="ConfusionMatrixAtThresholds", config='"thresholds": [0.5]'),
        _metric("ConfusionMatrixPlot"), _metric("CalibrationPlot")])]
  if task.kind == task_lib.MULTI_CLASS:
    return [
        config_pb2.MetricsSpec(metrics=[
            _metric("ExampleCount"),
            _metric("SparseCategoricalAccuracy", thresholds=decision_gate),
            _metric("MultiClassConfusionMatrixPlot")]),
        config_pb2.MetricsSpec(aggregate=_macro(task), metrics=[_metric("AUC", "macro_auc", thresholds=auc_gate)]),
        # One-vs-rest per class: AUC, and precision / recall of "probability >= 0.5".
        config_pb2.MetricsSpec(binarize=_per_class(task), metrics=[
            _metric("AUC"), _metric("Precision"), _metric("Recall")]),
    ]
  probabilities, decisions = [features.PROBABILITY_OUTPUT], [features.DECISIONS_OUTPUT]
  return [
      config_pb2.MetricsSpec(output_names=decisions, metrics=[
          _metric("ExampleCount"),
          config_pb2.MetricConfig(class_name="SubsetAccuracy", module=SUBSET_ACCURACY_MODULE)]),
      config_pb2.MetricsSpec(output_names=probabilities, aggregate=_macro(task), metrics=[
          _metric("AUC", "macro_auc", thresholds=auc_gate)]),
      config_pb2.MetricsSpec(output_names=probabilities, aggregate=config_pb2.AggregationOptions(micro_average=True),
                       metrics=[_metric("AUC", "micro_auc")]),
      config_pb2.MetricsSpec(output_names=decisions, aggregate=_macro(task), metrics=[
          _metric("Precision", "macro_precision"), _metric("Recall", "macro_recall"),
          _metric("F1Score", "macro_f1", thresholds=decision_gate)]),
      config_pb2.MetricsSpec(output_names=decisions, aggregate=config_pb2.AggregationOptions(micro_average=True),
                       metrics=[_metric("Precision", "micro_precision"), _metric("Recall", "micro_recall"),
                                _metric("F1Score", "micro_f1")]),
      config_pb2.MetricsSpec(output_names=decisions, binarize=_per_class(task), metrics=[
          _metric("Precision"), _metric("Recall"), _metric("F1Score")]),
      config_pb2.MetricsSpec(output_names=probabilities, binarize=_per_class(task), metrics=[_metric("AUC")]),
      config_pb2.MetricsSpec(output_names=decisions, metrics=[_metric("MultiLabelConfusionMatrixPlot")]),
  ]


def eval_config(gate: GateConfig, task: task_lib.Task) -> config_pb2.EvalConfig:
  """The Evaluator's config: the gate, per-class metrics and the slices.

  Sliced overall and by text length (a Transform feature); binary tasks also by label.
  """
  if task.kind == task_lib.MULTI_LABEL:
    spec = config_pb2.ModelSpec(signature_name=features.SERVING_EXAMPLES_SIGNATURE,
                          label_keys={features.PROBABILITY_OUTPUT: features.LABEL_XF,
                                      features.DECISIONS_OUTPUT: features.LABEL_XF},
                          preprocessing_function_names=[features.TRANSFORM_SIGNATURE])
  else:
    spec = config_pb2.ModelSpec(signature_name=features.SERVING_EXAMPLES_SIGNATURE, label_key=features.LABEL_XF,
                          preprocessing_function_names=[features.TRANSFORM_SIGNATURE])
  slices = [config_pb2.SlicingSpec(), config_pb2.SlicingSpec(feature_keys=[features.LENGTH_BUCKET_XF])]
  if task.kind != task_lib.MULTI_LABEL:
    slices.append(config_pb2.SlicingSpec(feature_keys=[features.DEFAULT_LABEL_KEY]))
  return config_pb2.EvalConfig(model_specs=[spec], slicing_specs=slices, metrics_specs=metrics_specs(gate, task))
