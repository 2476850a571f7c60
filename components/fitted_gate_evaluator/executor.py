"""TFX's Evaluator with the gate's floors fitted to the test split (floors.py).

Before TFMA runs, the executor reads the labels of the splits it evaluates and the task
the candidate was trained for (assets.extra/task.json), then rewrites the EvalConfig it
was given: every lower bound set to FIT_TO_DATA becomes the fitted floor, and macro
averages keep only the labels the test split can judge. The config TFMA ran with (saved
with the evaluation, as TFX always does) and FLOORS_FILE beside it record what was done.
"""
import json
import os

from google.protobuf import json_format
from tensorflow_model_analysis.proto import config_pb2
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import json_utils

from components.fitted_gate_evaluator import floors as floors_lib
from components.text_example_gen import written
from models import features
from models import task as task_lib

FIT_TO_DATA = -1.0          # a lower bound the executor replaces with the fitted floor
FLOORS_FILE = "floors.json"
ACCURACY_CLASSES = ("BinaryAccuracy", "SparseCategoricalAccuracy", "SubsetAccuracy")
DEFAULT_METRIC_NAMES = {"BinaryAccuracy": "binary_accuracy", "AUC": "auc",
                        "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
                        "SubsetAccuracy": "subset_accuracy", "F1Score": "f1_score"}


def read_label_sets(examples, splits) -> list:
  """Each example's raw labels (a tuple of strings) in the given splits of ExampleGen's
  output (`examples`: the Examples artifact list)."""
  uri = artifact_utils.get_single_uri(examples)
  return [labels for split in splits for _, labels in written.split_rows(uri, split)]


def fit(eval_config: config_pb2.EvalConfig, task: task_lib.Task, label_sets: list) -> tuple:
  """(the EvalConfig with fitted floors and judged-label macro averages, the record)."""
  config = config_pb2.EvalConfig()
  config.CopyFrom(eval_config)
  multi_label = task.kind == task_lib.MULTI_LABEL
  judged, left_out = floors_lib.judged_labels(label_sets, task.labels)
  auc_labels = task.labels[1:] if task.kind == task_lib.BINARY else judged
  record = {"examples": len(label_sets), "left_out_of_macro_averages": left_out, "floors": {}}
  if multi_label:   # reported beside the ungated subset accuracy
    subset = floors_lib.accuracy_floor("subset_accuracy", label_sets, multi_label=True)
    record["ungated"] = {subset.metric: {"trivial": subset.trivial, "trivial_predictor": subset.trivial_predictor}}
  for spec in config.metrics_specs:
    if spec.aggregate.macro_average and spec.aggregate.class_weights:
      weights = {i: 1.0 for i, label in enumerate(task.labels) if label in judged}
      spec.aggregate.ClearField("class_weights")
      spec.aggregate.class_weights.update(weights)
    for metric in spec.metrics:
      name = metric_name(metric)
      for per_slice in metric.per_slice_thresholds:
        bound = per_slice.threshold.value_threshold.lower_bound
        if bound.value != FIT_TO_DATA:
          continue
        if metric.class_name in ACCURACY_CLASSES:
          floor = floors_lib.accuracy_floor(name, label_sets, multi_label)
        elif metric.class_name == "F1Score":
          floor = floors_lib.f1_floor(name, label_sets, judged)
        else:
          floor = floors_lib.auc_floor(name, label_sets, auc_labels)
        bound.value = floor.value
        record["floors"][floor.metric] = {"floor": floor.value, "trivial": floor.trivial, "margin": floor.margin,
                                          "trivial_predictor": floor.trivial_predictor}
  return config, record


def metric_name(metric: config_pb2.MetricConfig) -> str:
  """The name a metric's values (and its floor in FLOORS_FILE) are stored under: its
  configured "name", else TFMA's default for the class."""
  config = metric.config
  configured = json.loads("{" + config + "}" if config and config[0] != "{" else config or "{}")
  return configured.get("name") or DEFAULT_METRIC_NAMES.get(metric.class_name, metric.class_name.lower())


class Executor(evaluator_executor.Executor):

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    eval_config = json_format.Parse(exec_properties[standard_component_specs.EVAL_CONFIG_KEY],
                                    config_pb2.EvalConfig())
    model_uri = artifact_utils.get_single_uri(input_dict[standard_component_specs.MODEL_KEY])
    task = task_lib.Task.from_json(io_utils.read_string_file(
        os.path.join(model_uri, "Format-Serving", features.TASK_FILE)))
    splits = json_utils.loads(exec_properties.get(standard_component_specs.EXAMPLE_SPLITS_KEY, "null")) or ["eval"]
    label_sets = read_label_sets(input_dict[standard_component_specs.EXAMPLES_KEY], splits)
    fitted, record = fit(eval_config, task, label_sets)
    exec_properties = dict(exec_properties)
    exec_properties[standard_component_specs.EVAL_CONFIG_KEY] = json_format.MessageToJson(fitted)
    output_uri = artifact_utils.get_single_uri(output_dict[standard_component_specs.EVALUATION_KEY])
    io_utils.write_string_file(os.path.join(output_uri, FLOORS_FILE), json.dumps(record, indent=1, sort_keys=True))
    super().Do(input_dict, output_dict, exec_properties)
