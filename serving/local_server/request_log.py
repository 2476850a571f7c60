"""Request logging: a sample of requests and their answers as TF Serving PredictionLogs.

TF Serving declares request logging (LoggingConfig: a sampling rate and a log
collector) but the open-source server has no collector and refuses it. Here a sample of
Predict and Classify calls (`--request_log_rate`, per request) is written, each with its
request and response, as TFRecord files in `--request_log_dir`: `requests-<n>.tfrecord`,
each at most FILE_BYTES (or one record), the oldest deleted before a new file would take
the folder past `--request_log_max_mb`. `make drift` reads them back (pipeline/drift.py).
"""
import glob
import logging
import os
import random
import re
import threading
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, prediction_log_pb2

log = logging.getLogger("local_server")
FILE_PATTERN = "requests-*.tfrecord"
FILE_BYTES = 4 * 1024 * 1024


def _model_spec(spec: model_pb2.ModelSpec, name: str, version: int, signature: str) -> None:
  spec.name = name
  spec.version.value = version
  spec.signature_name = signature


class RequestLog:
  """Thread-safe sampler and bounded writer of PredictionLogs."""

  def __init__(self, directory: str, rate: float, max_bytes: int, seed: int = None):
    if not 0.0 < rate <= 1.0:
      raise ValueError(f"--request_log_rate {rate}: give a share of requests in (0, 1]")
    if max_bytes < FILE_BYTES:
      raise ValueError(f"--request_log_max_mb: at least {FILE_BYTES // (1024 * 1024)} MB")
    os.makedirs(directory, exist_ok=True)
    self.directory, self.rate, self.max_bytes = directory, rate, max_bytes
    self._random = random.Random(seed)
    self._lock = threading.Lock()
    numbers = [int(re.findall(r"\d+", os.path.basename(p))[0]) for p in glob.glob(os.path.join(directory, FILE_PATTERN))]
    self._number = max(numbers, default=0)
    self._writer, self._written = None, 0

  def sampled(self) -> bool:
    with self._lock:
      return self._random.random() < self.rate

  def predict(self, name: str, version: int, signature: str, inputs: Mapping[str, np.ndarray],
              outputs: Mapping[str, np.ndarray]) -> None:
    entry = prediction_log_pb2.PredictionLog()
    request, response = entry.predict_log.request, entry.predict_log.response
    _model_spec(request.model_spec, name, version, signature)
    _model_spec(response.model_spec, name, version, signature)
    for key, value in inputs.items():
      request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    for key, value in outputs.items():
      response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
    self._write(entry)

  def classify(self, name: str, version: int, signature: str, examples: Sequence[bytes], results: list) -> None:
    entry = prediction_log_pb2.PredictionLog()
    request, response = entry.classify_log.request, entry.classify_log.response
    _model_spec(request.model_spec, name, version, signature)
    _model_spec(response.model_spec, name, version, signature)
    for serialized in examples:
      request.input.example_list.examples.add().ParseFromString(serialized)
    for pairs in results:
      classifications = response.result.classifications.add()
      for label, score in pairs:
        classifications.classes.add(label=label, score=score)
    self._write(entry)

  def _write(self, entry: prediction_log_pb2.PredictionLog) -> None:
    record = entry.SerializeToString()
    with self._lock:
      try:
        if self._writer is None or (self._written and self._written + len(record) > FILE_BYTES):
          self._rotate()
        self._writer.write(record)
        self._writer.flush()
        self._written += len(record)
      except OSError as e:   # a full disk must not fail the request it logs
        log.warning("request log: %s", e)

  def _rotate(self) -> None:
    if self._writer is not None:
      self._writer.close()
    self._number += 1
    self._writer = tf.io.TFRecordWriter(os.path.join(self.directory, f"requests-{self._number:06d}.tfrecord"))
    self._written = 0
    files = sorted(glob.glob(os.path.join(self.directory, FILE_PATTERN)))
    while len(files) > 1 and sum(os.path.getsize(f) for f in files) + FILE_BYTES > self.max_bytes:
      os.remove(files.pop(0))   # the oldest; never the one just opened

  def close(self) -> None:
    with self._lock:
      if self._writer is not None:
        self._writer.close()
        self._writer = None

