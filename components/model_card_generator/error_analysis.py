"""The test examples the model got most confidently wrong, per class.

Read from BulkInferrer's PredictionLogs on the test split (models/predictions.py), so
the examples are the ones the Evaluator judged and the probabilities the served model's. Memory is bounded: a
heap of `per_class` examples per class, whatever the split's size.
"""
import heapq
import itertools
from typing import Iterator

from models import task as task_lib
from models.predictions import Prediction

EXCERPT_CHARS = 300


def excerpt(text: str, chars: int = EXCERPT_CHARS) -> str:
  text = " ".join(text.split())
  return text if len(text) <= chars else text[:chars - 1].rstrip() + "…"


def _mistakes(prediction: Prediction, task: task_lib.Task) -> Iterator[tuple[str, float, dict]]:
  """(class, confidence of the wrong decision, entry) for each wrong decision."""
  p = prediction.probabilities
  if task.kind != task_lib.MULTI_LABEL:
    (predicted,) = prediction.decided(task)
    (actual,) = prediction.labels
    if predicted != actual:
      confidence = float(p[task.labels.index(predicted)])
      yield actual, confidence, {"true": [actual], "predicted": [predicted], "probability": confidence, "error": ""}
    return
  decided = prediction.decided(task)
  for i, label in enumerate(task.labels):
    positive, predicted = label in prediction.labels, label in decided
    if positive != predicted:
      entry = {"true": list(prediction.labels), "predicted": decided, "probability": float(p[i]),
               "error": "false positive" if predicted else "missed"}
      yield label, float(p[i] if predicted else 1.0 - p[i]), entry


def most_confident_mistakes(predictions: Iterator[Prediction], task: task_lib.Task, per_class: int = 5,
                            thresholds: dict | None = None) -> dict:
  """{"examples", "wrong", "thresholds", "classes": [{"label", "examples", "wrong", "mistakes": [...]}]}:
  per class (the true class; multi-label: each label's wrong decisions), the `per_class`
  mistakes with the highest confidence, most confident first. `thresholds`, the model's
  decision thresholds, are passed through for the card."""
  heaps = {label: [] for label in task.labels}
  wrong = dict.fromkeys(task.labels, 0)
  support = dict.fromkeys(task.labels, 0)
  counter = itertools.count()   # ties: the earlier example first
  examples, wrong_examples = 0, 0
  for prediction in predictions:
    examples += 1
    for label in prediction.labels:
      if label in support:
        support[label] += 1
    found = False
    for label, confidence, entry in _mistakes(prediction, task):
      found = True
      wrong[label] += 1
      item = (confidence, -next(counter), dict(entry, text=excerpt(prediction.text)))
      if len(heaps[label]) < per_class:
        heapq.heappush(heaps[label], item)
      else:
        heapq.heappushpop(heaps[label], item)
    wrong_examples += found
  classes = [{"label": label, "examples": support[label], "wrong": wrong[label],
              "mistakes": [entry for _, _, entry in sorted(heaps[label], reverse=True)]} for label in task.labels]
  return {"examples": examples, "wrong": wrong_examples, "thresholds": thresholds if task.kind == task_lib.MULTI_LABEL and thresholds else {},
          "classes": classes}
