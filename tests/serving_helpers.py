"""Helpers for the serving tests: a small real SavedModel and a server to put it behind."""
import contextlib
import pathlib
import time

import tensorflow as tf

from models import features
from serving.local_server.batcher import BatchingParameters
from serving.local_server.errors import ServingError
from serving.local_server.server import LocalModelServer, ServerOptions

MODEL = "imdb_sentiment"


class _ToyModel(tf.Module):
  """The pushed model's signatures on a one-weight model: P(pos) = sigmoid(w * len(text)/100)."""

  def __init__(self, weight: float):
    super().__init__()
    self.weight = tf.Variable(weight)

  def _probability(self, text):
    length = tf.cast(tf.strings.length(text), tf.float32)
    return tf.sigmoid(self.weight * length / 100.0)[:, tf.newaxis]

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.TEXT_INPUT)])
  def serve_text(self, text):
    """As the Trainer exports it: a column per label, and the label names."""
    positive = self._probability(text)
    return {features.PROBABILITY_OUTPUT: tf.concat([1.0 - positive, positive], axis=1),
            features.LABELS_OUTPUT: tf.tile(tf.constant([["neg", "pos"]]), [tf.shape(text)[0], 1])}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.EXAMPLES_INPUT)])
  def serve_examples(self, examples):
    text = tf.io.parse_example(examples, {"text": tf.io.FixedLenFeature([], tf.string)})["text"]
    return {features.PROBABILITY_OUTPUT: self._probability(text)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.CLASSIFY_INPUT)])
  def classify(self, inputs):
    positive = self.serve_examples(inputs)[features.PROBABILITY_OUTPUT]
    scores = tf.concat([1.0 - positive, positive], axis=1)
    classes = tf.tile(tf.constant([["neg", "pos"]]), [tf.shape(scores)[0], 1])
    return {features.CLASSES_OUTPUT: classes, features.SCORES_OUTPUT: scores}


def save_toy_model(path: pathlib.Path, weight: float) -> pathlib.Path:
  model = _ToyModel(weight)
  tf.saved_model.save(model, str(path), signatures={
      features.SERVING_EXAMPLES_SIGNATURE: model.serve_examples,
      features.SERVING_TEXT_SIGNATURE: model.serve_text,
      features.CLASSIFY_SIGNATURE: model.classify})
  return path


def fast_options(base_path, **changes) -> ServerOptions:
  """Free ports, fast polling: a server for tests."""
  values = dict(model_name=MODEL, model_base_path=str(base_path), port=0, rest_api_port=0,
                file_system_poll_wait_seconds=0.2, settle_seconds=0.3,
                batching=BatchingParameters(max_batch_size=32, batch_timeout_micros=2000))
  values.update(changes)
  return ServerOptions(**values)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
  deadline = time.time() + timeout
  while time.time() < deadline:
    try:
      value = predicate()
    except ServingError:  # e.g. no version loaded yet
      value = None
    if value:
      return value
    time.sleep(interval)
  raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextlib.contextmanager
def running_server(base_path, **changes):
  server = LocalModelServer(fast_options(base_path, **changes)).start()
  try:
    yield server
  finally:
    server.stop()
