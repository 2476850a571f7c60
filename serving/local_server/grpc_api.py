"""TF Serving's gRPC API: PredictionService (Predict, Classify, GetModelMetadata) and
ModelService (GetModelStatus), on the stubs' own service definitions."""
import contextlib
import math
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2,
                                     model_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc)

from serving.local_server import errors
from serving.local_server.inference import Inference, ModelRef

SIGNATURE_DEF_FIELD = "signature_def"


def model_ref(spec, signature_name: str = None) -> ModelRef:
  version = spec.version.value if spec.HasField("version") else None
  return ModelRef(spec.name, version, spec.version_label,
                  spec.signature_name if signature_name is None else signature_name)


def _fill_spec(spec, servable, signature_name: str = "") -> None:
  spec.name = servable.model_name
  spec.version.value = servable.version
  if signature_name:
    spec.signature_name = signature_name


# The repeated field that carries each dtype's values when tensor_content is empty.
_VALUE_FIELD = {
    types_pb2.DT_STRING: "string_val", types_pb2.DT_FLOAT: "float_val", types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_INT32: "int_val", types_pb2.DT_INT16: "int_val", types_pb2.DT_INT8: "int_val",
    types_pb2.DT_UINT8: "int_val", types_pb2.DT_UINT16: "int_val", types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_BOOL: "bool_val", types_pb2.DT_HALF: "half_val", types_pb2.DT_UINT32: "uint32_val",
    types_pb2.DT_UINT64: "uint64_val",
}


def tensor_to_numpy(key: str, proto) -> np.ndarray:
  """A request's TensorProto as numpy, checked before anything is allocated: known rank,
  dims >= 0, and exactly one value per element (no compact fill-by-repeat form), so the
  array can be no larger than the message that carried it."""
  if proto.tensor_shape.unknown_rank:
    raise errors.invalid(f"input '{key}' has an unknown rank; give its dims")
  dims = [d.size for d in proto.tensor_shape.dim]
  if any(d < 0 for d in dims):
    raise errors.invalid(f"input '{key}' has a negative dimension in its shape {dims}")
  elements = math.prod(dims)
  field = _VALUE_FIELD.get(proto.dtype)
  if field is None:
    known = proto.dtype in types_pb2.DataType.values()
    name = types_pb2.DataType.Name(proto.dtype) if known else f"{proto.dtype} (no such DataType)"
    raise errors.invalid(f"input '{key}' has dtype {name}, which this server does not take")
  if proto.tensor_content and proto.dtype != types_pb2.DT_STRING:
    itemsize = tf.as_dtype(proto.dtype).size
    values = len(proto.tensor_content) // itemsize if len(proto.tensor_content) % itemsize == 0 else -1
  else:
    values = len(getattr(proto, field))
  if values != elements:
    raise errors.invalid(f"input '{key}' has shape {dims} ({elements} elements) but carries "
                         f"{max(values, 0)} values; send one value per element")
  try:
    return tf.make_ndarray(proto)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.invalid(f"input '{key}' is not a valid TensorProto: {e}") from None


@contextlib.contextmanager
def _status(context):
  """Turns ServingError into the gRPC status; anything else into INTERNAL."""
  try:
    yield
  except errors.ServingError as e:
    context.abort(e.code, e.message)
  except Exception as e:  # pylint: disable=broad-except
    context.abort(grpc.StatusCode.INTERNAL, errors.internal(e, "a gRPC call"))


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):

  def __init__(self, inference: Inference):
    self._inference = inference

  def Predict(self, request, context):
    with _status(context):
      inputs = {k: tensor_to_numpy(k, v) for k, v in request.inputs.items()}
      servable, signature, outputs = self._inference.predict(
          model_ref(request.model_spec), inputs, list(request.output_filter))
      response = predict_pb2.PredictResponse()
      _fill_spec(response.model_spec, servable, signature)
      for key, value in outputs.items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
      return response

  def Classify(self, request, context):
    with _status(context):
      which = request.input.WhichOneof("kind")
      if which == "example_list":
        examples = [e.SerializeToString() for e in request.input.example_list.examples]
      elif which == "example_list_with_context":
        with_context = request.input.example_list_with_context
        examples = []
        for e in with_context.examples:
          merged = tf.train.Example()
          merged.CopyFrom(with_context.context)
          merged.MergeFrom(e)
          examples.append(merged.SerializeToString())
      else:
        raise errors.invalid("ClassificationRequest.input has no examples")
      servable, signature, results = self._inference.classify(model_ref(request.model_spec), examples)
      response = classification_pb2.ClassificationResponse()
      _fill_spec(response.model_spec, servable, signature)
      for pairs in results:
        classification = response.result.classifications.add()
        for label, score in pairs:
          classification.classes.add(label=label, score=score)
      return response

  def GetModelMetadata(self, request, context):
    with _status(context):
      unsupported = [f for f in request.metadata_field if f != SIGNATURE_DEF_FIELD]
      if unsupported or not request.metadata_field:
        raise errors.invalid(f"Metadata field(s) {unsupported or '(none)'} not supported; "
                             f"ask for '{SIGNATURE_DEF_FIELD}'")
      servable, signatures = self._inference.signature_def_map(model_ref(request.model_spec, signature_name=""))
      response = get_model_metadata_pb2.GetModelMetadataResponse()
      _fill_spec(response.model_spec, servable)
      response.metadata[SIGNATURE_DEF_FIELD].Pack(signatures)
      return response

  def Regress(self, request, context):
    context.abort(grpc.StatusCode.UNIMPLEMENTED, "Regress: the served models are classifiers")

  def MultiInference(self, request, context):
    context.abort(grpc.StatusCode.UNIMPLEMENTED, "MultiInference is not supported by the local server")


class ModelService(model_service_pb2_grpc.ModelServiceServicer):

  def __init__(self, inference: Inference):
    self._inference = inference

  def GetModelStatus(self, request, context):
    with _status(context):
      return self._inference.status(model_ref(request.model_spec))

  def HandleReloadConfigRequest(self, request, context):
    context.abort(grpc.StatusCode.UNIMPLEMENTED, "config reload: restart the local server instead")


def make_server(inference: Inference, host: str, port: int, max_request_bytes: int,
                max_concurrent_rpcs: int = 256, idle_timeout_seconds: float = 300.0,
                max_workers: int = 16) -> tuple[grpc.Server, int]:
  """A started gRPC server; returns it and the bound port (port 0 picks one).

  Calls past `max_concurrent_rpcs` get RESOURCE_EXHAUSTED at once; a connection with no
  call for `idle_timeout_seconds` is closed (gRPC's own GOAWAY)."""
  server = grpc.server(
      futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
      maximum_concurrent_rpcs=max_concurrent_rpcs,
      options=[("grpc.max_receive_message_length", max_request_bytes),
               ("grpc.max_send_message_length", -1),
               ("grpc.max_connection_idle_ms", int(idle_timeout_seconds * 1000)),
               ("grpc.so_reuseport", 0)])
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(inference), server)
  model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(inference), server)
  bound = server.add_insecure_port(f"{host}:{port}")
  if not bound:
    raise OSError(f"cannot bind gRPC to {host}:{port}")
  server.start()
  return server, bound
