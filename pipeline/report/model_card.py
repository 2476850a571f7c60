"""The model card's content: what the model is, its data, how it was judged, where it
is weak and where it came from, gathered as plain data for the card's templates.

The ModelCardGenerator (components/model_card_generator) calls `context` with the
artifacts of its run; the Markdown and HTML cards render it (rendering.py)."""
import datetime
import importlib.metadata
import json
from typing import Optional

from models import model as model_lib
from models import task as task_lib
from pipeline import summary as summary_lib
from pipeline.report import read

VERSIONED = ("tfx", "tensorflow", "tensorflow-hub", "tensorflow-model-analysis", "tensorflow-transform")
WORST_CLASSES = 3


def hyperparameters(settings: dict, task: task_lib.Task) -> str:
  """'epochs=5, batch_size=256, ...' as trained: defaults resolved (hidden units included)."""
  if not settings:
    return "–"
  config = model_lib.ModelConfig.from_dict(settings)
  values = dict(epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
                dropout=config.dropout, hidden_units=model_lib.hidden_units(config, task))
  return ", ".join(f"{k}={v}" for k, v in values.items())


def embedding(settings: dict) -> str:
  if not settings:
    return "–"
  return f"{settings.get('embedding_handle', '–')} ({'fine-tuned' if settings.get('trainable', True) else 'frozen'})"


def _versions() -> str:
  found = []
  for package in VERSIONED:
    try:
      found.append(f"{package} {importlib.metadata.version(package)}")
    except importlib.metadata.PackageNotFoundError:
      pass
  return ", ".join(found)


def thresholds(task: task_lib.Task, errors: Optional[dict]) -> dict:
  """How a probability becomes a decision, for a client of the served model."""
  if task.kind == task_lib.BINARY:
    return {"rule": f"{task.labels[1]} when P({task.labels[1]}) >= 0.5, else {task.labels[0]} "
                    "(serving_default's probabilities; Classify returns both scores).", "per_label": []}
  if task.kind == task_lib.MULTI_CLASS:
    return {"rule": "The label with the highest probability (top-1).", "per_label": []}
  per_label = sorted((errors or {}).get("thresholds", {}).items(), key=lambda kv: task.labels.index(kv[0]))
  return {"rule": "Each label is decided on its own: when its probability reaches its threshold, chosen on the "
                  "eval split. serving_default and serving_text return them (`thresholds`, `decisions`); Classify "
                  "returns scores only, so its clients apply these.", "per_label": per_label}


def limitations(result: summary_lib.RunSummary, view: dict, errors: Optional[dict]) -> list[str]:
  """The worst slices, the classes with the most mistakes and the labels left unjudged."""
  lines = [f"Slice {s['slice']}: {result.decision_name} {s['value']:.4f}, "
           f"{s['below_overall']:.4f} below overall ({s['examples']:.0f} test examples)."
           for s in view["worst_slices"] if s["below_overall"] is not None and s["below_overall"] > 0]
  classes = [c for c in (errors or {}).get("classes", []) if c["examples"]]
  for c in sorted(classes, key=lambda c: -c["wrong"] / c["examples"])[:WORST_CLASSES]:
    lines.append(f"Class {c['label']}: {c['wrong']} of {c['examples']} test examples with a wrong decision "
                 f"({c['wrong'] / c['examples']:.1%}).")
  for label, n in sorted(view["left_out"].items()):
    lines.append(f"Label {label} is not judged: {n} positive test examples, left out of macro averages.")
  if not lines:
    lines.append("No slice or class stands out below the overall metrics on this test split.")
  lines.append("Judged on one test split drawn like the training data; texts from elsewhere (other domains, "
               "languages or lengths) may score worse: compare live traffic with the training data (drift).")
  return lines


def context(name: str, result: summary_lib.RunSummary, statistics_uri: str, errors: Optional[dict],
            lineage: dict, intended_use: str = "") -> dict:
  task = task_lib.Task.from_json(json.dumps(result.task))
  view = read.evaluation_view(result)
  infra = result.infra_validation
  model = [("task", f"{task.kind}: {', '.join(task.labels)}"),
           ("embedding", embedding(result.model)),
           ("head", f"dropout, one ReLU layer, {task.outputs} "
                    f"{'softmax' if task.kind == task_lib.MULTI_CLASS else 'sigmoid'} output(s)"),
           ("hyper-parameters", hyperparameters(result.model, task)),
           ("tuning", "none" if not result.tuning else
            f"{'reused' if result.tuning.get('reused') else 'searched this run'}: {result.tuning.get('uri', '')}"),
           ("infra validation", "none" if not infra else ("passed" if infra.get("blessed") else
                                                          f"failed: {infra.get('why', '')}")),
           ("versions", _versions())]
  return {"name": name, "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "summary": result,
          "summary_decision_name": result.decision_name, "min_slice_examples": read.MIN_SLICE_EXAMPLES,
          "model": model, "data": read.data_view(statistics_uri) if statistics_uri else [], "view": view,
          "thresholds": thresholds(task, errors), "limitations": limitations(result, view, errors),
          "errors": errors, "lineage": list(lineage.items()), "intended_use": intended_use.strip()}
