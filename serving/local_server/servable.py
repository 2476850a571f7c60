"""One loaded model version: its SavedModel, its signatures and how a request runs them.

Inputs arrive as numpy arrays (decoded from TensorProtos or JSON); a signature checks
names, dtypes and shapes against its TensorSpecs before TensorFlow sees them, so a bad
request gets INVALID_ARGUMENT with a message instead of an op error.
"""
import dataclasses
import os
import weakref
from typing import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the tokenizer ops of the pushed models
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.ops import gen_resource_variable_ops
from tensorflow.python.trackable import resource as resource_lib

from serving.local_server import errors

CLASSIFY_INPUTS = tf.saved_model.CLASSIFY_INPUTS          # "inputs"
CLASSIFY_CLASSES = tf.saved_model.CLASSIFY_OUTPUT_CLASSES  # "classes"
CLASSIFY_SCORES = tf.saved_model.CLASSIFY_OUTPUT_SCORES    # "scores"
_INTERNAL_SIGNATURES = ("__saved_model_init_op",)


@dataclasses.dataclass(frozen=True)
class Signature:
  """A serving signature: the function and the specs of what it takes."""
  name: str
  function: object                        # a ConcreteFunction
  inputs: Mapping[str, tf.TensorSpec]
  outputs: tuple[str, ...]

  @property
  def batchable(self) -> bool:
    """Every input has an unknown leading (batch) dimension, so requests can be stacked."""
    return all(spec.shape.rank and spec.shape[0] is None for spec in self.inputs.values())

  def check(self, inputs: Mapping[str, np.ndarray]) -> int:
    """Validates a request's inputs; returns its batch size (rows)."""
    missing = sorted(set(self.inputs) - set(inputs))
    unknown = sorted(set(inputs) - set(self.inputs))
    if missing or unknown:
      raise errors.invalid(
          f"signature '{self.name}' takes inputs {sorted(self.inputs)}; "
          + (f"missing {missing}" if missing else "") + ("; " if missing and unknown else "")
          + (f"unknown {unknown}" if unknown else ""))
    rows = None
    for key, spec in self.inputs.items():
      value = inputs[key]
      if not _dtype_matches(value, spec.dtype):
        raise errors.invalid(
            f"input '{key}' of signature '{self.name}' expects {spec.dtype.name}, got {_dtype_name(value)}")
      if not spec.shape.is_compatible_with(value.shape):
        raise errors.invalid(
            f"input '{key}' of signature '{self.name}' expects shape {spec.shape}, got {list(value.shape)}")
      n = value.shape[0] if value.ndim else 1
      if n == 0:
        raise errors.invalid(f"input '{key}' is an empty batch: send at least one instance")
      if rows is not None and n != rows:
        raise errors.invalid(f"inputs disagree on the batch size ({rows} vs {n} for '{key}')")
      rows = n
    return rows or 0

  def run(self, inputs: Mapping[str, np.ndarray]) -> dict:
    """Runs the function; returns numpy outputs."""
    tensors = {k: tf.constant(v, dtype=self.inputs[k].dtype) for k, v in inputs.items()}
    try:
      outputs = self.function(**tensors)
    except tf.errors.InvalidArgumentError as e:  # e.g. a serialized Example missing a feature
      raise errors.invalid(f"signature '{self.name}' failed on this input: {e.message}") from None
    return {k: v.numpy() for k, v in outputs.items()}


def _dtype_matches(value: np.ndarray, dtype: tf.DType) -> bool:
  if dtype == tf.string:
    return value.dtype.kind in ("O", "S")
  return value.dtype.kind != "O" and value.dtype.kind != "S" and np.can_cast(value.dtype, dtype.as_numpy_dtype, "same_kind")


def _dtype_name(value: np.ndarray) -> str:
  return "string" if value.dtype.kind in ("O", "S", "U") else value.dtype.name


def read_signature_defs(path: str) -> dict:
  """The SignatureDefs TF Serving reports in GetModelMetadata (from saved_model.pb)."""
  saved_model = saved_model_pb2.SavedModel()
  with open(os.path.join(path, tf.saved_model.SAVED_MODEL_FILENAME_PB), "rb") as f:
    saved_model.ParseFromString(f.read())
  meta_graph = next((g for g in saved_model.meta_graphs if tf.saved_model.SERVING in g.meta_info_def.tags),
                    saved_model.meta_graphs[0])
  return {k: v for k, v in meta_graph.signature_def.items() if k not in _INTERNAL_SIGNATURES}


class Servable:
  """A model version loaded into memory and ready to answer requests."""

  def __init__(self, model_name: str, version: int, path: str):
    self.model_name = model_name
    self.version = version
    self.path = path
    self._model = tf.saved_model.load(path, tags=[tf.saved_model.SERVING])
    # The model's lookup tables (the word-piece and label vocabularies) are resources that
    # TF frees only at exit: about 3 MB a load. They are destroyed once nothing holds this
    # servable any more, neither the model store nor an in-flight request.
    weakref.finalize(self, destroy_resources, restored_resource_handles(self._model)).atexit = False
    self.signature_defs: dict[str, meta_graph_pb2.SignatureDef] = read_signature_defs(path)
    self.signatures: dict[str, Signature] = {}
    for name, function in self._model.signatures.items():
      _, kwargs = function.structured_input_signature
      self.signatures[name] = Signature(name, function, dict(kwargs), tuple(sorted(function.structured_outputs)))

  def signature(self, name: str) -> Signature:
    name = name or tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
    if name not in self.signatures:
      raise errors.invalid(
          f"Serving signature key \"{name}\" not found in model {self.model_name} version {self.version}; "
          f"it has {sorted(self.signatures)}")
    return self.signatures[name]

  def classification_signature(self, name: str) -> Signature:
    """A signature Classify can use: one serialized-Example input, classes and/or scores out
    (TF Serving's rule for TF2 models, whose signatures all carry the predict method name)."""
    signature = self.signature(name)
    if len(signature.inputs) != 1 or next(iter(signature.inputs.values())).dtype != tf.string:
      raise errors.invalid(f"signature '{signature.name}' is not a classification signature: "
                           "it must take exactly one string input (serialized tf.Examples)")
    if not {CLASSIFY_CLASSES, CLASSIFY_SCORES} & set(signature.outputs) or \
        set(signature.outputs) - {CLASSIFY_CLASSES, CLASSIFY_SCORES}:
      raise errors.invalid(f"signature '{signature.name}' is not a classification signature: its outputs "
                           f"{list(signature.outputs)} must be 'classes' and/or 'scores' only")
    return signature

  def warm_up(self) -> None:
    """Runs each one-string-input signature once so the first request pays no tracing cost."""
    for signature in self.signatures.values():
      if len(signature.inputs) == 1 and signature.batchable:
        (key, spec), = signature.inputs.items()
        if spec.dtype == tf.string and spec.shape.rank == 1:
          try:
            signature.run({key: np.array([b"warm up"], dtype=object)})
          except errors.ServingError:
            pass  # e.g. a serialized-Example signature: not a valid example, nothing to warm


def restored_resource_handles(model) -> list:
  """Handles of the resources (lookup tables) a loaded SavedModel created."""
  return [obj.resource_handle for obj in tf.train.TrackableView(model).descendants()
          if isinstance(obj, resource_lib.CapturableResource)]


def destroy_resources(handles) -> None:
  for handle in handles:
    gen_resource_variable_ops.destroy_resource_op(handle, ignore_lookup_error=True)
