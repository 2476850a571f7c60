"""What the user sees at the end of a run: test metrics, the gate's verdict, the push.

Read back from ML Metadata and the Evaluator's TFMA output, i.e. from what the run
actually recorded, not from in-memory state.
"""
import argparse
import contextlib
import dataclasses
import json
import os
import sys
from typing import Optional

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.writers import eval_config_writer
from ml_metadata.proto import metadata_store_pb2
from tfx.components.evaluator import constants as evaluator_constants
from tfx.orchestration import metadata
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import io_utils

from components.budget_tuner.executor import TRIALS_FILE
from components.errors import InputDataError
from components.fitted_gate_evaluator.executor import FLOORS_FILE
from components.local_infra_validator import executor as infra_validator
from components.model_card_generator import artifact as card_artifact
from models import features
from models import task as task_lib
from pipeline import evaluation
from pipeline import paths


class BaselineTaskMismatchError(InputDataError):
  """The pipeline's last blessed model was trained for another task: not comparable."""


@dataclasses.dataclass
class RunSummary:
  task: dict                        # kind, labels, ... (models.task.Task as a dict)
  metrics: dict                     # overall test-split metrics of the candidate, by TFMA name
  blessed: bool
  failures: list                    # why not blessed: one line per failed threshold
  pushed_to: Optional[str]          # version directory, or None
  evaluation_uri: str
  baseline_metrics: Optional[dict] = None   # the last blessed model's, on the same test split
  per_label: dict = dataclasses.field(default_factory=dict)  # label -> {metric: value} (multi-class/-label)
  pipeline_name: str = ""
  wall_seconds: float = 0.0
  model: dict = dataclasses.field(default_factory=dict)  # the ModelConfig the Trainer ran with
  # The Tuner's result the Trainer took, if any: {"reused": bool, "uri", "objective",
  # "budget_seconds", "stopped_because", "trials": [...]} (components/budget_tuner).
  tuning: dict = dataclasses.field(default_factory=dict)
  # The floors the Evaluator fitted to the test split (components/fitted_gate_evaluator):
  # {"floors": {metric: {"floor", "trivial", "margin", "trivial_predictor"}},
  #  "left_out_of_macro_averages": {label: test positives}, "examples": n,
  #  multi-label: "ungated": {"subset_accuracy": {"trivial", "trivial_predictor"}}}; {} if absolute.
  fitted_floors: dict = dataclasses.field(default_factory=dict)
  serving_model: str = ""           # the TF Serving model name the Pusher pushes to
  # The InfraValidator's verdict: {"blessed", "why", "load_seconds", "checks": [...]}
  # (components/local_infra_validator); {} when the run had none.
  infra_validation: dict = dataclasses.field(default_factory=dict)
  schema: str = ""                  # the curated schema file ExampleValidator enforced; "" if inferred
  model_card: str = ""              # the model card (HTML): in the pushed version, else in its artifact

  @property
  def accuracy_name(self) -> str:
    """Exact-match accuracy (multi-label: subset accuracy), gated or not."""
    return evaluation.ACCURACY[self.task["kind"]][0]

  @property
  def decision_name(self) -> str:
    """The gated metric of the decisions: accuracy, or macro-F1 for multi-label."""
    return evaluation.DECISION[self.task["kind"]][0]

  @property
  def auc_name(self) -> str:
    return evaluation.AUC[self.task["kind"]][0]

  @property
  def accuracy(self) -> Optional[float]:
    return self.metrics.get(self.accuracy_name)

  @property
  def auc(self) -> Optional[float]:
    return self.metrics.get(self.auc_name)

  def _floor(self, metric: str) -> str:
    """'  floor F = trivial predictor T + margin M' for a fitted floor; for a metric
    reported ungated, its trivial predictor's value; '' otherwise."""
    floor = self.fitted_floors.get("floors", {}).get(metric)
    if floor:
      return (f"  floor {floor['floor']:.4f} = {floor['trivial_predictor']} {floor['trivial']:.4f} "
              f"+ margin {floor['margin']:.4f}")
    reference = self.fitted_floors.get("ungated", {}).get(metric)
    if reference:
      return f"  not gated; {reference['trivial_predictor']} {reference['trivial']:.4f}"
    return ""

  def _tuning_rows(self) -> list:
    if not self.tuning:
      return []
    trials = self.tuning.get("trials", [])
    if self.tuning.get("reused"):
      return [("tuning", f"reused: the pipeline's last Tuner result ({self.tuning.get('uri', '')}); "
                         f"--tune searches again")]
    done = [t for t in trials if t["status"] == "completed"]
    rows = [("tuning", f"{len(done)} trials in {sum(t['seconds'] or 0 for t in done):.0f} s of a "
                       f"{self.tuning.get('budget_seconds', 0):.0f} s budget, by {self.tuning.get('objective')}; "
                       f"stopped: {self.tuning.get('stopped_because')}")]
    for t in trials:
      score = "-" if t["score"] is None else f"{t['score']:.4f}"
      seconds = f"{t['seconds']:.0f} s" if t["seconds"] is not None else t.get("why", "")
      stage = f"{t['stage']}: " if t.get("stage") else ""
      rows.append((f"  trial {t['trial'] or '-'}", f"{score}  {seconds}  {stage}{describe_model(t['values'])}"))
    return rows

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  def table(self) -> str:
    labels = self.task["labels"]
    rows = [("task", f"{self.task['kind']}, {len(labels)} labels ({', '.join(labels[:6])}"
                     f"{', ...' if len(labels) > 6 else ''})"),
            *([("model", describe_model(self.model))] if self.model else []),
            *self._tuning_rows(),
            *[(f"test {name.replace('_', ' ')}", _fmt(self.metrics.get(name)) + self._floor(name))
              for name in dict.fromkeys((self.decision_name, self.auc_name, self.accuracy_name))]]
    rows += [(f"test {name.replace('_', ' ')}", _fmt(self.metrics[name]))
             for name in EXTRA_ROWS if name in self.metrics and name != self.decision_name]
    left_out = self.fitted_floors.get("left_out_of_macro_averages") or {}
    if left_out:
      rows.append(("not judged", "left out of macro averages (no positive or no negative test example): "
                                 + ", ".join(f"{label} ({n} positives)" for label, n in sorted(left_out.items()))))
    rows += [("test examples", _fmt(self.metrics.get("example_count"), "{:.0f}")),
             ("baseline", "none (first blessed model: judged on the floors alone)" if not self.baseline_metrics
              else f"{self.decision_name.replace('_', ' ')} {_fmt(self.baseline_metrics.get(self.decision_name))}, "
                   f"{self.auc_name.replace('_', ' ')} {_fmt(self.baseline_metrics.get(self.auc_name))} "
                   f"(last blessed model)"),
             ("blessed", "yes" if self.blessed else "no")]
    rows += [("why not", line) for line in self.failures]
    rows += self._infra_rows()
    rows += [("pushed to", self.pushed_to or "nothing pushed"),
             *([("serve it", self.serving_hint())] if self.serving_model else []),
             *([("model card", self.model_card)] if self.model_card else []),
             ("evaluation", self.evaluation_uri),
             ("wall time", f"{self.wall_seconds:.0f} s")]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


  def _infra_rows(self) -> list:
    infra = self.infra_validation
    if not infra:
      return []
    if not infra["blessed"]:
      return [("infra validation", f"FAILED, so nothing is pushed: {infra.get('why') or 'see the InfraBlessing'}")]
    checks = infra.get("checks", [])
    if not checks:   # TFX's InfraValidator (TF Serving in a container) writes no report
      return [("infra validation", "passed (TF Serving loaded and answered)")]
    apis = [api for api in ("gRPC", "REST") if any(c["api"].startswith(api) for c in checks)]
    return [("infra validation", f"passed: served from a fresh copy (loaded in {infra['load_seconds']:.0f} s), "
                                 f"{len(checks)} checks over {' and '.join(apis)} with {infra.get('examples', '')}, "
                                 "every answer as in process")]

  def serving_hint(self) -> str:
    """The TF Serving model name and the two commands that serve and query it (MODEL_BASE
    where the push went elsewhere than `make serve`'s default: --output-dir, Kubeflow's --root)."""
    name = self.serving_model
    if not self.pushed_to:
      return f"TF Serving model {name}: nothing new pushed this run (make serve MODEL={name} serves earlier pushes)"
    base = os.path.dirname(os.path.normpath(self.pushed_to))
    elsewhere = os.path.realpath(base) != os.path.realpath(paths.serving_model_dir(name))
    return (f"TF Serving model {name}: make serve MODEL={name}{f' MODEL_BASE={base}' if elsewhere else ''}, then "
            f"scripts/env.sh run python -m serving.clients.cli --model {name} \"some text\" (serving/README.md)")


def infra_report(blessing_uri: str, blessed: bool) -> dict:
  """The InfraValidator's report (components/local_infra_validator), or its verdict alone
  (TFX's InfraValidator writes none)."""
  report = os.path.join(blessing_uri, infra_validator.REPORT_FILE)
  if os.path.exists(report):
    return json.loads(io_utils.read_string_file(report))
  return {"blessed": blessed, "why": "", "checks": []}


def describe_model(settings: dict) -> str:
  """One line for a ModelConfig (or a trial's values): embedding and the searched settings."""
  return (f"{settings['embedding_handle']} ({'fine-tuned' if settings['trainable'] else 'frozen'}), "
          f"batch {settings['batch_size']}, learning rate {settings['learning_rate']:g}, "
          f"dropout {settings['dropout']:g}, hidden units {settings.get('hidden_units') or 'default'}, "
          f"epochs <= {settings['epochs']}")


def _fmt(value, pattern="{:.4f}") -> str:
  return "-" if value is None else pattern.format(value)


@contextlib.contextmanager
def metadata_store(metadata_path: str):
  """The pipeline's ML Metadata store: where every lookup of a run's outputs starts."""
  with metadata.Metadata(metadata.sqlite_metadata_connection_config(metadata_path)) as m:
    yield m.store


def latest_artifact(store, artifact_type, producer: str = ""):
  """The newest artifact of a type, optionally only those a given node wrote
  (Transform also writes Examples and ExampleStatistics). TFX lays outputs out as
  <pipeline_root>/<node id>/<output key>/<execution id>."""
  found = [a for a in store.get_artifacts_by_type(artifact_type.TYPE_NAME)
           if not producer or f"{producer}/" in a.uri]
  return max(found, key=lambda a: a.id) if found else None


def latest_execution(store, component: str):
  """The newest execution of a component, by its class name (execution types are named
  by the class's module path: ...trainer.component.Trainer); None if it never ran."""
  types = {t.id: t.name for t in store.get_execution_types()}
  return max((e for e in store.get_executions() if types.get(e.type_id, "").endswith(component)),
             key=lambda e: e.id, default=None)


def execution_artifacts(store, execution_id: int, event_type=metadata_store_pb2.Event.INPUT) -> dict:
  """{key: [ML Metadata artifacts]} an execution took (or, given Event.OUTPUT, wrote)."""
  events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == event_type]
  artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
  found = {}
  for event in events:
    found.setdefault(event.path.steps[0].key, []).append(artifacts[event.artifact_id])
  return found


def latest_output(metadata_path: str, artifact_type, producer: str = ""):
  """latest_artifact, opening the store; None where nothing (or no store) is recorded."""
  if not os.path.exists(metadata_path):   # connecting would create an empty store
    return None
  with metadata_store(metadata_path) as store:
    return latest_artifact(store, artifact_type, producer)


EXTRA_ROWS = ("micro_auc", "macro_f1", "micro_f1", "macro_precision", "macro_recall", "micro_precision",
              "micro_recall")


def scalar_metrics(values: dict) -> dict:
  """{name: value} of a TFMA view's metrics; aggregated ones come back named
  "macro_average: true\n_macro_auc" and are renamed "macro_auc"."""
  return {name.rsplit("\n", 1)[-1].lstrip("_"): float(v["doubleValue"])
          for name, v in values.items() if isinstance(v, dict) and "doubleValue" in v}


def _overall(eval_result, task: task_lib.Task) -> tuple[dict, dict]:
  """(overall metrics by name, per-label metrics) of the overall slice. Output names
  (multi-label: probabilities / decisions) are dropped: metric names are unique."""
  metrics, per_label = {}, {}
  for slice_key, by_output in eval_result.slicing_metrics:
    if slice_key != ():
      continue
    for by_sub_key in by_output.values():
      for sub_key, values in by_sub_key.items():
        scalars = scalar_metrics(values)
        if not sub_key:
          metrics.update(scalars)
        elif sub_key.startswith("classId:"):
          label = task.labels[int(sub_key.split(":")[1])]
          per_label.setdefault(label, {}).update(scalars)
  # Macro averages over labels a slice never predicts are NaN in TFMA (0/0 precision);
  # scikit-learn's zero_division=0 convention counts such a label's score as 0.
  for name in ("precision", "recall", "f1_score"):
    macro = f"macro_{name.replace('_score', '')}"
    if macro in metrics and metrics[macro] != metrics[macro] and per_label:
      values = [v.get(name, float("nan")) for v in per_label.values()]
      metrics[macro] = sum(0.0 if x != x else x for x in values) / len(task.labels)
  return metrics, per_label


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


def last_blessed_model_uri(store) -> Optional[str]:
  """The model the newest positive ModelBlessing blessed (what the Resolver will pick)."""
  blessings = [b for b in store.get_artifacts_by_type(standard_artifacts.ModelBlessing.TYPE_NAME)
               if b.custom_properties[evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY].int_value == 1]
  if not blessings:
    return None
  model_id = max(blessings, key=lambda b: b.id).custom_properties["current_model_id"].int_value
  models = store.get_artifacts_by_id([model_id])
  return models[0].uri if models else None


def last_blessed_model(metadata_path: str) -> Optional[str]:
  """last_blessed_model_uri, opening the store; None where nothing is recorded."""
  if not os.path.exists(metadata_path):   # connecting would create an empty store
    return None
  with metadata_store(metadata_path) as store:
    return last_blessed_model_uri(store)


def model_settings(model_uri: str) -> dict:
  """The ModelConfig a Trainer's model was trained with (after tuning), as a dict."""
  path = os.path.join(model_uri, "Format-Serving", features.MODEL_CONFIG_FILE)
  return json.loads(io_utils.read_string_file(path)) if os.path.exists(path) else {}


def _producer(store, artifact_id: int) -> int:
  """The execution that wrote an artifact."""
  return next(e.execution_id for e in store.get_events_by_artifact_ids([artifact_id])
              if e.type == metadata_store_pb2.Event.OUTPUT)


def _run_ids(store, execution_id: int) -> set:
  """The pipeline-run contexts (one per orchestrator run) an execution belongs to."""
  run_type = store.get_context_type("pipeline_run").id
  return {c.id for c in store.get_contexts_by_execution(execution_id) if c.type_id == run_type}


def trainer_tuning(store, model) -> dict:
  """The Tuner result the Trainer that wrote `model` took as input (lineage in ML
  Metadata), with the trial log its Tuner wrote and whether it was reused from an
  earlier run; {} if the Trainer took none."""
  trainer_run = _producer(store, model.id)
  hyperparameters = execution_artifacts(store, trainer_run).get(standard_component_specs.HYPERPARAMETERS_KEY)
  if not hyperparameters:
    return {}
  tuner_run = _producer(store, hyperparameters[0].id)
  log = {}
  for artifact in execution_artifacts(store, tuner_run, metadata_store_pb2.Event.OUTPUT).get(
      standard_component_specs.TUNER_RESULTS_KEY, []):
    path = os.path.join(artifact.uri, TRIALS_FILE)
    if os.path.exists(path):
      log = json.loads(io_utils.read_string_file(path))
  reused = not _run_ids(store, trainer_run) & _run_ids(store, tuner_run)
  return dict(log, uri=hyperparameters[0].uri, reused=reused)


def model_task(model_uri: str) -> Optional[task_lib.Task]:
  """The task a Trainer's model was trained for (assets.extra/task.json), if recorded."""
  path = os.path.join(model_uri, "Format-Serving", features.TASK_FILE)
  return task_lib.Task.from_json(io_utils.read_string_file(path)) if os.path.exists(path) else None


def check_baseline_task(metadata_path: str, task: task_lib.Task) -> None:
  """Refuses a run whose last blessed model (the no-regression baseline) solved another
  task: a different kind or label vocabulary is reported as that, not as a metric drop."""
  uri = last_blessed_model(metadata_path)
  baseline = model_task(uri) if uri else None
  if baseline and (baseline.kind, baseline.labels) != (task.kind, task.labels):
    raise BaselineTaskMismatchError(
        f"the pipeline's last blessed model ({uri}) was trained for a {baseline.kind} task with labels "
        f"{list(baseline.labels)}; this run's data make a {task.kind} task with labels {list(task.labels)}. "
        f"Their metrics are not comparable: run it as a new pipeline (--name) or remove "
        f"{os.path.dirname(metadata_path)} to start this one's history afresh")


def read(metadata_path: str, task: Optional[task_lib.Task] = None) -> RunSummary:
  """Summarises the newest evaluation, blessing and push recorded in MLMD (for the task
  given, else the one the newest model recorded)."""
  with metadata_store(metadata_path) as store:
    if task is None:
      model = latest_artifact(store, standard_artifacts.Model)
      task = model_task(model.uri) if model else None
    evaluation = latest_artifact(store, standard_artifacts.ModelEvaluation)
    blessing = latest_artifact(store, standard_artifacts.ModelBlessing)
    pushed = latest_artifact(store, standard_artifacts.PushedModel)
    model = latest_artifact(store, standard_artifacts.Model, "Trainer")
    tuning = trainer_tuning(store, model) if model else {}
    infra_blessing = latest_artifact(store, standard_artifacts.InfraBlessing)
    if infra_blessing is not None and (model is None or infra_blessing.id < model.id):
      infra_blessing = None   # an earlier run's: this one had no infra validation
    card = latest_artifact(store, card_artifact.ModelCard)
    if card is not None and (model is None or card.id < model.id):
      card = None
  if evaluation is None or task is None:
    raise RuntimeError(f"{metadata_path}: no model evaluation recorded")
  blessed = bool(blessing and
                 blessing.custom_properties[evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY].int_value == 1)
  push_dir = None
  if pushed and pushed.custom_properties["pushed"].int_value == 1:
    push_dir = pushed.custom_properties["pushed_destination"].string_value
  infra = (infra_report(infra_blessing.uri,
                        infra_blessing.custom_properties[infra_validator.BLESSED_PROPERTY].int_value == 1)
           if infra_blessing is not None else {})
  return from_evaluation(evaluation.uri, task, blessed, infra_validation=infra,
                         pushed_to=push_dir, model=model_settings(model.uri) if model else {}, tuning=tuning,
                         model_card=model_card_path(push_dir, card.uri if card else None))


def model_card_path(pushed_to: Optional[str], card_uri: Optional[str]) -> str:
  """The model card's HTML: the copy pushed with the version, else the artifact's; ''."""
  for folder in (os.path.join(pushed_to, card_artifact.PUSHED_CARD_DIR) if pushed_to else None, card_uri):
    if folder and os.path.exists(os.path.join(folder, card_artifact.HTML_FILE)):
      return os.path.join(folder, card_artifact.HTML_FILE)
  return ""


def from_evaluation(uri: str, task: task_lib.Task, blessed: bool, **recorded) -> RunSummary:
  """A RunSummary from the Evaluator's output at `uri` (metrics of the candidate and the
  baseline, the failed thresholds, the fitted floors); `recorded` fills the other fields."""
  candidate, baseline = model_names(uri)
  metrics, per_label = _overall(tfma.load_eval_result(uri, model_name=candidate or None), task)
  baseline_metrics = _overall(tfma.load_eval_result(uri, model_name=baseline), task)[0] if baseline else None
  failures = [] if blessed else _failures(tfma.load_validation_result(uri), metrics, baseline_metrics)
  floors_path = os.path.join(uri, FLOORS_FILE)
  fitted_floors = json.loads(io_utils.read_string_file(floors_path)) if os.path.exists(floors_path) else {}
  return RunSummary(task=dataclasses.asdict(task), metrics=metrics, blessed=blessed, failures=failures,
                    evaluation_uri=uri, baseline_metrics=baseline_metrics, per_label=per_label,
                    fitted_floors=fitted_floors, **recorded)


def from_artifacts(evaluation_uri: str, model_uri: str, blessed: bool, pushed_to: Optional[str] = None,
                   infra_blessing: Optional[tuple[str, bool]] = None, model_card_uri: Optional[str] = None,
                   **recorded) -> RunSummary:
  """A RunSummary from artifact URIs, where no ML Metadata store is at hand (a Kubeflow
  run: kubeflow/container_run.py passes what its tasks wrote)."""
  return from_evaluation(evaluation_uri, model_task(model_uri), blessed, pushed_to=pushed_to,
                         model=model_settings(model_uri),
                         infra_validation=infra_report(*infra_blessing) if infra_blessing else {},
                         model_card=model_card_path(pushed_to, model_card_uri), **recorded)


def main(argv=None) -> int:
  """python -m pipeline.summary: the end-of-run table from the run's artifacts."""
  p = argparse.ArgumentParser(prog="python -m pipeline.summary", description=main.__doc__)
  p.add_argument("--evaluation", required=True, help="the Evaluator's ModelEvaluation URI")
  p.add_argument("--model", required=True, help="the Trainer's Model URI")
  p.add_argument("--blessed", required=True, choices=["yes", "no"], help="the Evaluator's verdict")
  p.add_argument("--pushed-to", default=None, help="the pushed version folder, if the Pusher pushed")
  p.add_argument("--infra-blessing", default=None, help="the InfraValidator's InfraBlessing URI, if any")
  p.add_argument("--infra-blessed", default="no", choices=["yes", "no"], help="its verdict")
  p.add_argument("--model-card", default=None, help="the ModelCardGenerator's ModelCard URI, if any")
  p.add_argument("--name", default="", help="the pipeline name")
  p.add_argument("--serving-model", default="", help="the TF Serving model name")
  p.add_argument("--wall-seconds", type=float, default=0.0)
  p.add_argument("--json", default=None, metavar="FILE", help="also write the summary as JSON (last_run.json)")
  args = p.parse_args(argv)
  infra = (args.infra_blessing, args.infra_blessed == "yes") if args.infra_blessing else None
  result = from_artifacts(args.evaluation, args.model, args.blessed == "yes", args.pushed_to, infra, args.model_card,
                          pipeline_name=args.name, serving_model=args.serving_model, wall_seconds=args.wall_seconds)
  print(result.table(), flush=True)
  if args.json:
    with open(args.json, "w", encoding="utf-8") as f:
      f.write(result.to_json())
  return 0


if __name__ == "__main__":
  sys.exit(main())
