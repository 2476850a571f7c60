"""What the user sees at the end of a run: test metrics, the gate's verdict, the push.

Read back from ML Metadata and the Evaluator's TFMA output, i.e. from what the run
actually recorded, not from in-memory state.
"""
import dataclasses
import json
from typing import Optional

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.writers import eval_config_writer
from tfx.orchestration import metadata
from tfx.types import standard_artifacts

METRICS = ("binary_accuracy", "auc", "example_count", "auc_precision_recall", "precision", "recall",
           "calibration", "mean_label", "mean_prediction")


@dataclasses.dataclass
class RunSummary:
  metrics: dict                     # overall test-split metrics of the candidate
  blessed: bool
  failures: list                    # why not blessed: one line per failed threshold
  pushed_to: Optional[str]          # version directory, or None
  evaluation_uri: str
  baseline_metrics: Optional[dict] = None   # the last blessed model's, on the same test split
  wall_seconds: float = 0.0

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  def table(self) -> str:
    rows = [("test accuracy", _fmt(self.metrics.get("binary_accuracy"))),
            ("test AUC", _fmt(self.metrics.get("auc"))),
            ("test examples", _fmt(self.metrics.get("example_count"), "{:.0f}")),
            ("baseline", "none (first blessed model: judged on the floors alone)" if not self.baseline_metrics
             else f"accuracy {_fmt(self.baseline_metrics.get('binary_accuracy'))}, "
                  f"AUC {_fmt(self.baseline_metrics.get('auc'))} (last blessed model)"),
            ("blessed", "yes" if self.blessed else "no")]
    rows += [("why not", line) for line in self.failures]
    rows += [("pushed to", self.pushed_to or "nothing pushed"),
             ("evaluation", self.evaluation_uri),
             ("wall time", f"{self.wall_seconds:.0f} s")]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def _fmt(value, pattern="{:.4f}") -> str:
  return "-" if value is None else pattern.format(value)


def latest_artifact(store, artifact_type, producer: str = ""):
  """The newest artifact of a type, optionally only those a given node wrote
  (Transform also writes Examples and ExampleStatistics). TFX lays outputs out as
  <pipeline_root>/<node id>/<output key>/<execution id>."""
  found = [a for a in store.get_artifacts_by_type(artifact_type.TYPE_NAME)
           if not producer or f"{producer}/" in a.uri]
  return max(found, key=lambda a: a.id) if found else None


def _overall(eval_result) -> dict:
  for slice_key, metrics in eval_result.slicing_metrics:
    if slice_key == ():
      values = metrics.get("", {}).get("", {})
      return {name: float(v["doubleValue"]) for name, v in values.items()
              if name in METRICS and "doubleValue" in v}
  return {}


def _failures(validation, metrics: dict, baseline: Optional[dict]) -> list:
  """One line per failed threshold: the metric, its value (and the baseline's), the bound."""
  lines = []
  for per_slice in validation.metric_validations_per_slice:
    for failure in per_slice.failures:
      key = failure.metric_key
      threshold = failure.metric_threshold
      value = failure.metric_value.double_value.value
      if key.is_diff:
        bound = threshold.change_threshold.absolute.value
        lines.append(f"{key.name} change vs. baseline {value:+.4f} (candidate "
                     f"{_fmt(metrics.get(key.name))}, baseline {_fmt((baseline or {}).get(key.name))}), "
                     f"required >= {bound:+.4f}")
      else:
        lines.append(f"{key.name} value {value:.4f}, required >= {threshold.value_threshold.lower_bound.value:.4f}")
  if not lines and not validation.validation_ok:
    lines.append(f"validation failed without a metric failure: {validation}")
  return lines


def model_names(uri: str) -> tuple[str, Optional[str]]:
  """(candidate, baseline) model names in an Evaluator output; baseline None on a first run."""
  eval_config, *_ = eval_config_writer.load_eval_run(uri)
  candidate = next((m.name for m in eval_config.model_specs if not m.is_baseline), "")
  baseline = next((m.name for m in eval_config.model_specs if m.is_baseline), None)
  return candidate, baseline


def read(metadata_path: str) -> RunSummary:
  """Summarises the newest evaluation, blessing and push recorded in MLMD."""
  with metadata.Metadata(metadata.sqlite_metadata_connection_config(metadata_path)) as m:
    evaluation = latest_artifact(m.store, standard_artifacts.ModelEvaluation)
    blessing = latest_artifact(m.store, standard_artifacts.ModelBlessing)
    pushed = latest_artifact(m.store, standard_artifacts.PushedModel)
  if evaluation is None:
    raise RuntimeError(f"{metadata_path}: no model evaluation recorded")
  uri = evaluation.uri
  candidate, baseline = model_names(uri)
  metrics = _overall(tfma.load_eval_result(uri, model_name=candidate or None))
  baseline_metrics = _overall(tfma.load_eval_result(uri, model_name=baseline)) if baseline else None
  blessed = bool(blessing and blessing.custom_properties["blessed"].int_value == 1)
  push_dir = None
  if pushed and pushed.custom_properties["pushed"].int_value == 1:
    push_dir = pushed.custom_properties["pushed_destination"].string_value
  failures = [] if blessed else _failures(tfma.load_validation_result(uri), metrics, baseline_metrics)
  return RunSummary(metrics=metrics, blessed=blessed, failures=failures, pushed_to=push_dir,
                    evaluation_uri=uri, baseline_metrics=baseline_metrics)
