"""Per-label decision thresholds for multi-label models, chosen on the eval split.

A sigmoid per label at 0.5 under-predicts rare labels; the usual remedy (and what the
GoEmotions paper's baselines do on dev) is a threshold per label that maximises that
label's F1 on held-out data. Only the eval split is used, never test.
"""
import numpy as np

GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)
DEFAULT = 0.5


def f1_per_label(labels: np.ndarray, decisions: np.ndarray) -> np.ndarray:
  """[n] F1 of each label's column (0 where a label has no positives and no predictions)."""
  tp = (labels * decisions).sum(axis=0)
  denominator = labels.sum(axis=0) + decisions.sum(axis=0)
  return np.divide(2 * tp, denominator, out=np.zeros_like(tp, dtype=float), where=denominator > 0)


def choose(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
  """[n] thresholds: for each label, the grid value with the best eval F1; 0.5 where
  no grid value beats 0.5 (or the label never occurs in eval)."""
  labels = np.asarray(labels, dtype=float)
  probabilities = np.asarray(probabilities, dtype=float)
  scores = np.stack([f1_per_label(labels, (probabilities >= t).astype(float)) for t in GRID])  # [grid, n]
  best = GRID[scores.argmax(axis=0)]
  at_default = f1_per_label(labels, (probabilities >= DEFAULT).astype(float))
  keep_default = (scores.max(axis=0) <= at_default) | (labels.sum(axis=0) == 0)
  return np.where(keep_default, DEFAULT, best).astype(np.float32)
