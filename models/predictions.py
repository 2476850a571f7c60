"""A model's predictions as TFX's BulkInferrer writes them: TF Serving PredictionLogs of
the `serving_default` signature, each holding the input tf.Example and the outputs.

Read here, once, for the model card's error analysis and for batch scoring."""
import dataclasses
import glob
import json
import os
from typing import Iterator, Optional

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from models import features
from models import task as task_lib

LOG_FILES = "prediction_logs-*"   # BulkInferrer's output files (gzipped TFRecords)
BINARY_THRESHOLD = 0.5            # what binary accuracy and the served decision use


@dataclasses.dataclass(frozen=True)
class Prediction:
  text: str
  labels: tuple[str, ...]               # true labels; () when the data has none
  probabilities: np.ndarray             # one per label (binary too: P(labels[0]), P(labels[1]))
  decisions: Optional[np.ndarray]       # multi-label: 1.0 where the served model decides the label
  row_id: str = ""                      # where the row came from (scoring: "file, line N")

  def decided(self, task: task_lib.Task) -> list[str]:
    """The labels the model decides: top-1 (binary at 0.5), or each label at its threshold."""
    if task.kind == task_lib.MULTI_LABEL:
      return [label for label, d in zip(task.labels, self.decisions) if d]
    if task.kind == task_lib.BINARY:
      return [task.labels[int(self.probabilities[1] >= BINARY_THRESHOLD)]]
    return [task.labels[int(np.argmax(self.probabilities))]]


def thresholds(model_dir: str) -> dict:
  """{label: decision threshold} the Trainer recorded beside the model ({} if none)."""
  path = os.path.join(model_dir, features.THRESHOLDS_FILE)
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path) as f:
    return json.loads(f.read())


def log_files(inference_uri: str) -> list[str]:
  paths = sorted(glob.glob(os.path.join(inference_uri, "**", LOG_FILES), recursive=True))
  if not paths:
    raise FileNotFoundError(f"{inference_uri}: no {LOG_FILES} files (BulkInferrer's output)")
  return paths


def _strings(example: tf.train.Example, key: str) -> tuple[str, ...]:
  return tuple(v.decode("utf-8") for v in example.features.feature[key].bytes_list.value)


def read(inference_uri: str, task: task_lib.Task) -> Iterator[Prediction]:
  """Every PredictionLog under `inference_uri`, decoded, streaming."""
  for record in tf.data.TFRecordDataset(log_files(inference_uri), compression_type="GZIP").as_numpy_iterator():
    log = prediction_log_pb2.PredictionLog.FromString(record)
    request, response = log.predict_log.request, log.predict_log.response
    (serialized,) = request.inputs[features.EXAMPLES_INPUT].string_val
    example = tf.train.Example.FromString(serialized)
    probabilities = tf.make_ndarray(response.outputs[features.PROBABILITY_OUTPUT]).reshape(-1)
    if task.kind == task_lib.BINARY:
      probabilities = np.array([1.0 - probabilities[0], probabilities[0]])
    decisions = None
    if features.DECISIONS_OUTPUT in response.outputs:
      decisions = tf.make_ndarray(response.outputs[features.DECISIONS_OUTPUT]).reshape(-1)
    row_id = _strings(example, features.ROW_ID_KEY)
    yield Prediction(_strings(example, features.DEFAULT_TEXT_KEY)[0], _strings(example, features.DEFAULT_LABEL_KEY),
                     probabilities, decisions, row_id[0] if row_id else "")
