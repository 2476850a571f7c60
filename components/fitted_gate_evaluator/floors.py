"""The gate's floors fitted to the test split: a margin above what a trivial predictor
scores on the same examples.

  accuracy (binary, multi-class)   the majority class's share
  macro-F1 (multi-label)           the label prior as the score: every label predicted
                                   for every text, F1 = 2p / (1 + p) for a label of
                                   prevalence p (never predicting it scores 0), averaged
  AUC (any kind)                   0.5, a predictor that ranks at random
  subset accuracy (multi-label,    the most frequent label set's share (the empty set
    reported, not gated)           too), shown beside it for reference

The margin is the larger of MIN_MARGIN and Z standard errors of the trivial value on this
many examples, so a model at chance on a small test split does not pass by luck: for
accuracy sqrt(p (1 - p) / n); for F1 the delta method on 2p / (1 + p), 2 / (1 + p)^2 *
sqrt(p (1 - p) / n), and for AUC the null standard error of Hanley & McNeil (1982),
sqrt((n1 + n0 + 1) / (12 n1 n0)), each averaged over the labels a macro average takes
(labels taken as independent). A label the test split cannot judge (no positive or no
negative example) has no AUC and no F1 worth the name: it is left out of macro averages
and listed.
"""
import collections
import dataclasses
import math
from typing import Iterable, Sequence

MIN_MARGIN = 0.02
Z = 3.0


@dataclasses.dataclass(frozen=True)
class Floor:
  metric: str          # the gated metric's name (pipeline/evaluation.py: ACCURACY, AUC)
  trivial: float       # what the trivial predictor scores on the test split
  margin: float
  trivial_predictor: str

  @property
  def value(self) -> float:
    return min(self.trivial + self.margin, 1.0)


def _positives(label_sets: Sequence[tuple]) -> collections.Counter:
  """How many test examples carry each label."""
  return collections.Counter(label for s in label_sets for label in set(s))


def _margin(standard_error: float) -> float:
  return max(MIN_MARGIN, Z * standard_error)


def accuracy_floor(metric: str, label_sets: Sequence[tuple], multi_label: bool) -> Floor:
  """label_sets: each test example's labels (one for binary and multi-class)."""
  n = len(label_sets)
  counts = collections.Counter(tuple(sorted(s)) for s in label_sets)
  most, share = counts.most_common(1)[0] if counts else ((), 0.0)
  share = share / n if n else 0.0
  name = (f"most frequent label set {{{', '.join(most)}}}" if multi_label else f"majority class {most[0]}") if n else "-"
  return Floor(metric, share, _margin(math.sqrt(share * (1 - share) / n) if n else 0.0), name)


def f1_floor(metric: str, label_sets: Sequence[tuple], labels: Sequence[str]) -> Floor:
  """Macro-F1 of predicting every one of `labels` (those a macro average takes) for every
  test example: per label 2p / (1 + p), the best F1 a constant score reaches."""
  n = len(label_sets)
  positives = _positives(label_sets)
  shares = [positives[label] / n for label in labels] if n else []
  if not shares:
    return Floor(metric, 0.0, MIN_MARGIN, "-")
  trivial = sum(2 * p / (1 + p) for p in shares) / len(shares)
  variance = sum((2 / (1 + p) ** 2) ** 2 * p * (1 - p) / n for p in shares)
  return Floor(metric, trivial, _margin(math.sqrt(variance) / len(shares)),
               "every label predicted for every text")


def judged_labels(label_sets: Sequence[tuple], labels: Sequence[str]) -> tuple[list, dict]:
  """(labels with a positive and a negative test example, {left-out label: positives})."""
  n = len(label_sets)
  positives = _positives(label_sets)
  judged = [label for label in labels if 0 < positives[label] < n]
  return judged, {label: positives[label] for label in labels if label not in judged}


def auc_floor(metric: str, label_sets: Sequence[tuple], labels: Iterable[str]) -> Floor:
  """Binary: `labels` is the positive label alone; otherwise the labels a macro AUC averages."""
  n = len(label_sets)
  positives = _positives(label_sets)
  variances = [(n + 1) / (12 * positives[label] * (n - positives[label])) for label in labels
               if 0 < positives[label] < n]
  error = math.sqrt(sum(variances)) / len(variances) if variances else 0.0
  return Floor(metric, 0.5, _margin(error), "random ranking")
