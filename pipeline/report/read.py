"""What a run recorded, read back as plain data for the report and the model card.

ML Metadata names the artifacts; the Evaluator's TFMA output gives metrics by slice,
plots, the thresholds and the baseline; TFDV's statistics and anomalies describe the
data; the ModelCard artifact holds the error analysis. Nothing here formats or draws.
"""
import json
import os
from typing import Optional

import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from components.fitted_gate_evaluator import executor as gate_executor
from components.model_card_generator import artifact as card_artifact
from models import features
from models import task as task_lib
from pipeline import summary as summary_lib

SLICE_METRICS = {
    task_lib.BINARY: ("example_count", "binary_accuracy", "auc", "auc_precision_recall", "precision", "recall",
                      "calibration"),
    task_lib.MULTI_CLASS: ("example_count", "sparse_categorical_accuracy", "macro_auc"),
    task_lib.MULTI_LABEL: ("example_count", "subset_accuracy", "macro_auc", "micro_auc", "macro_f1", "micro_f1",
                           "macro_precision", "macro_recall", "micro_precision", "micro_recall"),
}
OVERALL = "Overall"
RANKING = ("auc", "auc_precision_recall")      # undefined on a slice with one class
ONE_CLASS = "n/a"                               # what such a slice shows instead of a number
MIN_SLICE_EXAMPLES = 10                         # a smaller slice is never called one of the worst
WORST_SLICES = 3


# --- ML Metadata -------------------------------------------------------------------
def _latest_execution_property(store, component: str, name: str) -> str:
  """A property of the newest execution of a component (e.g. the ExampleGen's input_base)."""
  latest = summary_lib.latest_execution(store, component)
  value = latest and (latest.properties.get(name) or latest.custom_properties.get(name))
  return value.string_value if value else ""


def read_run(metadata_path: str) -> dict:
  """The latest run's artifacts (by role), the ExampleGen's input and the curated schema
  file ("" when SchemaGen inferred the schema), from ML Metadata."""
  with summary_lib.metadata_store(metadata_path) as store:
    found = {name: summary_lib.latest_artifact(store, t, producer) for name, t, producer in (
        ("examples", standard_artifacts.Examples, "ExampleGen/examples"),
        ("statistics", standard_artifacts.ExampleStatistics, "StatisticsGen"),
        ("anomalies", standard_artifacts.ExampleAnomalies, "ExampleValidator"),
        ("model", standard_artifacts.Model, "Trainer"),
        ("evaluation", standard_artifacts.ModelEvaluation, "Evaluator"),
        ("pushed", standard_artifacts.PushedModel, "Pusher"),
        ("model_card", card_artifact.ModelCard, ""))}
    input_base = _latest_execution_property(store, "ExampleGen", "input_base")
    schema = summary_lib.latest_artifact(store, standard_artifacts.Schema, "SchemaGen")  # not Transform's
    curated = bool(schema) and "/CuratedSchemaGen/" in schema.uri
    schema_file = _latest_execution_property(store, "CuratedSchemaGen", "schema_file") if curated else ""
  if found["evaluation"] is None:
    raise RuntimeError(f"{metadata_path}: no evaluation recorded yet; run the pipeline first (make run)")
  card = found["model_card"]
  if card is not None and found["model"] is not None and card.id < found["model"].id:
    found["model_card"] = None   # an earlier run's card: this run's model has none yet
  return {"artifacts": found, "input_base": input_base, "schema_file": schema_file}


# --- the Evaluator's output -----------------------------------------------------------
def slice_name(slice_key) -> str:
  return OVERALL if not slice_key else ", ".join(f"{k} = {v}" for k, v in slice_key)


def _double(values: dict, name: str) -> Optional[float]:
  entry = values.get(name)
  return float(entry["doubleValue"]) if isinstance(entry, dict) and "doubleValue" in entry else None


def metrics_by_slice(eval_result, kind: str = task_lib.BINARY) -> list:
  """[(slice name, {metric: value or ONE_CLASS}, raw TFMA values)], Overall first."""
  rows = []
  for slice_key, by_output in eval_result.slicing_metrics:
    values = {}
    for by_sub_key in by_output.values():  # multi-label: the probabilities and decisions outputs
      values.update(by_sub_key.get("", {}))
    scalars = summary_lib.scalar_metrics(values)
    one_class = _double(values, "mean_label") in (0.0, 1.0)
    rows.append((slice_name(slice_key), {m: ONE_CLASS if one_class and m in RANKING else scalars.get(m)
                                         for m in SLICE_METRICS[kind]}, values))
  rows.sort(key=lambda r: (r[0] != OVERALL, r[0]))
  return rows


def overall_plots(eval_result) -> dict:
  for slice_key, plots in eval_result.plots:
    if not slice_key:
      return plots.get("", {}).get("", {})
  return {}


def thresholds(eval_config) -> list:
  """[(metric, floor or None, allowed drop or None)] of the Evaluator's config."""
  rows = []
  for spec in eval_config.metrics_specs:
    for metric in spec.metrics:
      for t in [metric.threshold] * metric.HasField("threshold") + [p.threshold for p in metric.per_slice_thresholds]:
        floor = t.value_threshold.lower_bound.value if t.HasField("value_threshold") else None
        drop = -t.change_threshold.absolute.value if t.HasField("change_threshold") else None
        rows.append((gate_executor.metric_name(metric), floor, drop))
  return rows


def gate_rows(eval_config, result: summary_lib.RunSummary) -> list[dict]:
  """One row per threshold: value, floor (and the trivial predictor it was fitted to),
  the baseline's value, the change and whether it passed; then the metrics reported
  beside a trivial predictor but not gated (multi-label subset accuracy)."""
  rows = []
  for key, floor, drop in thresholds(eval_config):
    value = result.metrics.get(key)
    base_value = (result.baseline_metrics or {}).get(key)
    change = None if value is None or base_value is None else value - base_value
    ok_floor = value is not None and floor is not None and value >= floor
    ok_drop = change is None or drop is None or change >= -drop - 1e-12
    rows.append({"metric": key, "value": value, "floor": floor, "fitted": result.fitted_floors.get("floors", {}).get(key),
                 "baseline": base_value, "change": change, "allowed_change": None if drop is None else -drop,
                 "ok": ok_floor and ok_drop, "gated": True})
  for key, reference in result.fitted_floors.get("ungated", {}).items():   # shown for reference
    rows.append({"metric": key, "value": result.metrics.get(key), "fitted": reference,
                 "baseline": (result.baseline_metrics or {}).get(key), "gated": False})
  return rows


def confusion(values: dict, plots: dict, task: task_lib.Task) -> Optional[dict]:
  """{"columns": [...], "rows": [[actual label, counts...]]} of the overall slice: binary
  at 0.5, multi-class top-1 (TFMA's MultiClassConfusionMatrixPlot); None for multi-label."""
  if task.kind == task_lib.BINARY:
    entry = values.get("confusion_matrix_at_thresholds", {})
    for m in entry.get("confusionMatrixAtThresholds", {}).get("matrices", []) if isinstance(entry, dict) else []:
      if abs(m.get("threshold", -1) - 0.5) < 1e-6:
        neg, pos = task.labels
        return {"columns": [f"predicted {neg}", f"predicted {pos}"],
                "rows": [[f"actual {neg}", m.get("trueNegatives", 0), m.get("falsePositives", 0)],
                         [f"actual {pos}", m.get("falseNegatives", 0), m.get("truePositives", 0)]]}
    return None
  if task.kind == task_lib.MULTI_CLASS:
    matrices = plots.get("multiClassConfusionMatrixAtThresholds", {}).get("matrices", [])
    if not matrices:
      return None
    counts = {}
    for entry in matrices[0].get("entries", []):
      key = (int(entry.get("actualClassId", 0)), int(entry.get("predictedClassId", 0)))
      counts[key] = counts.get(key, 0) + float(entry.get("numWeightedExamples", 0))
    return {"columns": [f"predicted {p}" for p in task.labels],
            "rows": [[f"actual {a}"] + [counts.get((i, j), 0) for j in range(len(task.labels))]
                     for i, a in enumerate(task.labels)]}
  return None


def worst_slices(slices: list, metric_name: str, limit: int = WORST_SLICES) -> list[dict]:
  """The slices (of at least MIN_SLICE_EXAMPLES examples) with the lowest value of the
  gate's decision metric (NaN, as a macro-F1 with no label to judge, is left out)."""
  overall = next((m.get(metric_name) for name, m, _ in slices if name == OVERALL), None)
  judged = [(m[metric_name], name, m.get("example_count")) for name, m, _ in slices
            if name != OVERALL and isinstance(m.get(metric_name), float) and m[metric_name] == m[metric_name]
            and (m.get("example_count") or 0) >= MIN_SLICE_EXAMPLES]
  return [{"slice": name, "value": value, "examples": count,
           "below_overall": None if overall is None else overall - value}
          for value, name, count in sorted(judged)[:limit]]


def evaluation_view(result: summary_lib.RunSummary) -> dict:
  """Everything the report and the card show about the Evaluator's judgement."""
  task = task_lib.Task.from_json(json.dumps(result.task))
  candidate, baseline_name = summary_lib.model_names(result.evaluation_uri)
  eval_result = tfma.load_eval_result(result.evaluation_uri, model_name=candidate or None)
  slices = metrics_by_slice(eval_result, task.kind)
  plots = overall_plots(eval_result)
  overall_values = next((raw for name, _, raw in slices if name == OVERALL), {})
  per_label_metrics = sorted({m for values in result.per_label.values() for m in values})
  baseline = None
  if result.baseline_metrics:
    baseline = {"model": baseline_name, "rows": [
        {"metric": m, "candidate": result.metrics.get(m), "baseline": result.baseline_metrics.get(m),
         "change": None if result.metrics.get(m) is None or result.baseline_metrics.get(m) is None
         else result.metrics[m] - result.baseline_metrics[m]}
        for m in SLICE_METRICS[task.kind] if m != "example_count"]}
  return {
      "task": task,
      "validation_ok": tfma.load_validation_result(result.evaluation_uri).validation_ok,
      "gate": gate_rows(eval_result.config, result),
      "slice_metrics": SLICE_METRICS[task.kind],
      "slices": [(name, metrics) for name, metrics, _ in slices],
      "worst_slices": worst_slices(slices, result.decision_name),
      "per_label_metrics": per_label_metrics,
      "per_label": [(label, [result.per_label.get(label, {}).get(m) for m in per_label_metrics])
                    for label in task.labels] if result.per_label else [],
      "confusion": confusion(overall_values, plots, task),
      "plots": plots,
      "baseline": baseline,
      "left_out": result.fitted_floors.get("left_out_of_macro_averages") or {},
  }


# --- the data ----------------------------------------------------------------------------
def split_dirs(uri: str) -> dict:
  return {d[len("Split-"):]: os.path.join(uri, d) for d in sorted(os.listdir(uri)) if d.startswith("Split-")}


def statistics(statistics_uri: str) -> list[dict]:
  """Per split: the example count and, per feature, missing, average length (chars),
  unique values and the top values with their counts (TFDV's statistics)."""
  splits = []
  for split, path in split_dirs(statistics_uri).items():
    stats = tfdv.load_stats_binary(os.path.join(path, "FeatureStats.pb"))
    for dataset in stats.datasets:
      rows = []
      for feature in dataset.features:
        s = feature.string_stats
        rows.append({"feature": feature.path.step[0] if feature.path.step else feature.name,
                     "missing": s.common_stats.num_missing, "avg_length": s.avg_length, "unique": s.unique,
                     "top": [(v.value, v.frequency) for v in s.top_values]})
      splits.append({"split": split, "examples": dataset.num_examples, "features": rows})
  return splits


def data_view(statistics_uri: str) -> list[dict]:
  """Per split: examples, average text length (chars) and the label distribution."""
  view = []
  for split in statistics(statistics_uri):
    by_name = {f["feature"]: f for f in split["features"]}
    text, label = by_name.get(features.DEFAULT_TEXT_KEY, {}), by_name.get(features.DEFAULT_LABEL_KEY, {})
    view.append({"split": split["split"], "examples": split["examples"], "avg_text_chars": text.get("avg_length"),
                 "labels": label.get("top", [])})
  return view


def anomalies(anomalies_uri: str) -> list[dict]:
  found = []
  for split, path in split_dirs(anomalies_uri).items():
    proto = anomalies_pb2.Anomalies()
    with open(os.path.join(path, "SchemaDiff.pb"), "rb") as f:
      proto.ParseFromString(f.read())
    for feature, info in proto.anomaly_info.items():
      found.append({"split": split, "feature": feature, "short": info.short_description,
                    "description": info.description})
  return found


# --- the model card ------------------------------------------------------------------------
def error_analysis(model_card_uri: Optional[str]) -> Optional[dict]:
  """The ModelCardGenerator's error analysis (components/model_card_generator), if any."""
  path = os.path.join(model_card_uri or "", card_artifact.ERRORS_FILE)
  return json.loads(io_utils.read_string_file(path)) if model_card_uri and os.path.exists(path) else None
