"""What both clients return and raise, and the tf.Example they send to Classify."""
import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf

from models import features
from pipeline.paths import SAMPLE_SERVING_MODEL as DEFAULT_MODEL  # noqa: F401  (the clients' default)


class ServingClientError(Exception):
  """A request the server refused or that did not complete: the status and its message."""

  def __init__(self, status: str, message: str):
    super().__init__(f"{status}: {message}")
    self.status = status      # gRPC code name (INVALID_ARGUMENT) or HTTP status ("400")
    self.message = message


@dataclasses.dataclass(frozen=True)
class Prediction:
  outputs: dict               # output name -> numpy array
  version: Optional[int]      # the version that answered (gRPC reports it; REST does not)


def predicted_labels(prediction: Prediction) -> list:
  """Per text, what the model predicts from its serving_text outputs: [(label, probability)]
  of every label whose decision is 1 (multi-label), else the one most probable label."""
  outputs = prediction.outputs
  names = [[n.decode() if isinstance(n, bytes) else str(n) for n in row] for row in outputs[features.LABELS_OUTPUT]]
  probabilities = np.asarray(outputs[features.PROBABILITY_OUTPUT], dtype=float)
  if features.DECISIONS_OUTPUT in outputs:
    decisions = np.asarray(outputs[features.DECISIONS_OUTPUT]) >= 0.5
    return [[(names[i][j], float(probabilities[i][j])) for j in np.flatnonzero(decisions[i])]
            for i in range(len(names))]
  return [[(names[i][int(probabilities[i].argmax())], float(probabilities[i].max()))] for i in range(len(names))]


@dataclasses.dataclass(frozen=True)
class Classification:
  results: list               # per example: [(label, score), ...]
  version: Optional[int]

  def best(self) -> list:
    """(label, score) of the highest score, per example."""
    return [max(pairs, key=lambda p: p[1]) for pairs in self.results]


def text_example(text: str, text_key: str = features.DEFAULT_TEXT_KEY) -> tf.train.Example:
  return tf.train.Example(features=tf.train.Features(feature={
      text_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode("utf-8")]))}))


def as_array(value) -> np.ndarray:
  """A numpy array for a TensorProto: text becomes an object array of UTF-8 bytes."""
  if not _is_text(value):
    return np.asarray(value)
  array = np.asarray(value, dtype=object)
  encode = np.vectorize(lambda s: s.encode("utf-8") if isinstance(s, str) else s, otypes=[object])
  return encode(array) if array.size else array


def _is_text(value) -> bool:
  first = value
  while isinstance(first, (list, tuple, np.ndarray)) and len(first):
    first = first[0]
  return isinstance(first, (str, bytes)) or (isinstance(value, np.ndarray) and value.dtype == object)
