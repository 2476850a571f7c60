"""Predict and Classify, independent of the wire format.

Both front ends (grpc_api, rest_api) decode a request into a model spec and numpy
inputs, call these, and encode the answer; so the two protocols cannot disagree.
"""
import dataclasses
from concurrent import futures
from typing import Mapping, Optional, Sequence

import numpy as np
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from serving.local_server import errors
from serving.local_server.batcher import Batcher
from serving.local_server.model_store import ModelStore
from serving.local_server.request_log import RequestLog
from serving.local_server.servable import CLASSIFY_CLASSES, CLASSIFY_SCORES, Servable


@dataclasses.dataclass(frozen=True)
class ModelRef:
  """Which model, version and signature a request names (TF Serving's ModelSpec)."""
  name: str
  version: Optional[int] = None
  label: str = ""
  signature_name: str = ""


class Inference:
  """Runs requests against the store's servables through the batcher."""

  def __init__(self, store: ModelStore, batcher: Batcher, timeout_seconds: float = 30.0,
               max_batch_rows: int = 1024, request_log: Optional[RequestLog] = None):
    self.store = store
    self.request_log = request_log
    self.batcher = batcher
    self.timeout_seconds = timeout_seconds
    self.max_batch_rows = max_batch_rows

  def _check_rows(self, rows: int) -> None:
    if rows > self.max_batch_rows:
      raise errors.invalid(f"the request has {rows} rows; this server takes at most "
                           f"{self.max_batch_rows} per request (--max_batch_rows)")

  def servable(self, ref: ModelRef) -> Servable:
    return self.store.get(ref.name, ref.version, ref.label)

  def signature_def_map(self, ref: ModelRef) -> tuple[Servable, get_model_metadata_pb2.SignatureDefMap]:
    """GetModelMetadata's `signature_def` field, for the version a request names."""
    servable = self.servable(ref)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    for key, value in servable.signature_defs.items():
      signatures.signature_def[key].CopyFrom(value)
    return servable, signatures

  def status(self, ref: ModelRef) -> get_model_status_pb2.GetModelStatusResponse:
    """GetModelStatus: every known version (or the one named) with its state and error."""
    version = self.servable(ref).version if ref.label else ref.version
    response = get_model_status_pb2.GetModelStatusResponse()
    for state in self.store.states(ref.name, version):
      status = response.model_version_status.add(
          version=state.version, state=get_model_status_pb2.ModelVersionStatus.State.Value(state.state))
      if state.error:
        status.status.error_code = errors.grpc.StatusCode.UNKNOWN.value[0]
        status.status.error_message = state.error
    return response

  def _checked(self, ref: ModelRef, inputs: Mapping[str, np.ndarray], output_filter: Sequence[str] = ()):
    servable = self.servable(ref)
    signature = servable.signature(ref.signature_name)
    rows = signature.check(inputs)
    self._check_rows(rows)
    unknown = sorted(set(output_filter) - set(signature.outputs))
    if unknown:
      raise errors.invalid(f"output_filter names {unknown}, not outputs of signature "
                           f"'{signature.name}' ({list(signature.outputs)})")
    return servable, signature, rows

  def submit_predict(self, ref: ModelRef, inputs: Mapping[str, np.ndarray]) -> Optional[futures.Future]:
    """Predict without blocking: the batcher's future of the outputs, or None when the
    signature cannot be batched (then call predict on a thread)."""
    servable, signature, rows = self._checked(ref, inputs)
    if not signature.batchable:
      return None
    future = self.batcher.submit(servable, signature, inputs, rows)
    if self.request_log and self.request_log.sampled():
      future.add_done_callback(lambda done: done.exception() or self.request_log.predict(
          servable.model_name, servable.version, signature.name, inputs, done.result()))
    return future

  def predict(self, ref: ModelRef, inputs: Mapping[str, np.ndarray],
              output_filter: Sequence[str] = ()) -> tuple[Servable, str, dict]:
    servable, signature, rows = self._checked(ref, inputs, output_filter)
    outputs = self.batcher.run(servable, signature, inputs, rows, self.timeout_seconds)
    if output_filter:
      outputs = {k: v for k, v in outputs.items() if k in output_filter}
    if self.request_log and self.request_log.sampled():
      self.request_log.predict(servable.model_name, servable.version, signature.name, inputs, outputs)
    return servable, signature.name, outputs

  def classify(self, ref: ModelRef, serialized_examples: Sequence[bytes]) -> tuple[Servable, str, list]:
    """Returns, per example, a list of (label, score) pairs, as ClassificationResult holds."""
    if not serialized_examples:
      raise errors.invalid("Classify got no examples: send at least one")
    self._check_rows(len(serialized_examples))
    servable = self.servable(ref)
    signature = servable.classification_signature(ref.signature_name)
    (key,) = signature.inputs
    inputs = {key: np.array(list(serialized_examples), dtype=object)}
    rows = signature.check(inputs)
    outputs = self.batcher.run(servable, signature, inputs, rows, self.timeout_seconds)
    classes, scores = outputs.get(CLASSIFY_CLASSES), outputs.get(CLASSIFY_SCORES)
    results = []
    for i in range(rows):
      row_scores = scores[i].ravel().tolist() if scores is not None else None
      row_classes = [c.decode() if isinstance(c, bytes) else str(c) for c in classes[i].ravel()] \
          if classes is not None else [""] * len(row_scores)
      results.append(list(zip(row_classes, row_scores if row_scores is not None else [0.0] * len(row_classes))))
    if self.request_log and self.request_log.sampled():
      self.request_log.classify(servable.model_name, servable.version, signature.name, serialized_examples, results)
    return servable, signature.name, results
