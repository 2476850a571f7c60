"""Naive-Bayes log-count ratios from the train split, for embedding modules that scale
their n-grams by them (models/embeddings/nb_ngram_bag.py).

For a binary task, r_i = log((p_i / |p|_1) / (q_i / |q|_1)) where p_i and q_i count the
positive and negative training texts containing n-gram i, each plus one (Laplace):
Wang & Manning (2012). Computed in one pass over the train split, before fitting; the
eval and test splits are never read.
"""
import numpy as np
import tensorflow as tf

from models import task as task_lib

NGRAM_IDS = "ngram_ids"               # module function: strings -> ragged hashed n-gram ids
LOG_COUNT_RATIO = "log_count_ratio"   # module variable [buckets] the ids index


def count_by_class(ngram_ids, dataset, buckets: int) -> tuple[np.ndarray, np.ndarray]:
  """(positive, negative) text counts per n-gram over (text, 0/1 label) batches."""
  positive, negative = np.zeros(buckets), np.zeros(buckets)
  for text, label in dataset:
    ids = ngram_ids(text)
    is_positive = tf.gather(tf.reshape(label, [-1]) > 0.5, ids.value_rowids()).numpy()
    flat = ids.flat_values.numpy()
    positive += np.bincount(flat[is_positive], minlength=buckets)
    negative += np.bincount(flat[~is_positive], minlength=buckets)
  return positive, negative


def log_count_ratio(positive: np.ndarray, negative: np.ndarray, alpha: float = 1.0) -> np.ndarray:
  p, q = positive + alpha, negative + alpha
  return np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)


def set_from_train_split(module, dataset, task: task_lib.Task) -> bool:
  """Sets the module's ratios from the train split; True if it did. Only binary tasks and
  only modules that expose both names; others are left as they are (ratios of 1: a plain
  hashed n-gram bag)."""
  if task.kind != task_lib.BINARY or not (hasattr(module, NGRAM_IDS) and hasattr(module, LOG_COUNT_RATIO)):
    return False
  variable = getattr(module, LOG_COUNT_RATIO)
  ratio = log_count_ratio(*count_by_class(getattr(module, NGRAM_IDS), dataset, int(variable.shape[0])))
  variable.assign(ratio)
  print(f"[trainer] Naive-Bayes log-count ratios set from the train split: {np.count_nonzero(ratio)} "
        f"of {ratio.size} n-gram rows non-zero, |r| max {np.abs(ratio).max():.2f}", flush=True)
  return True
