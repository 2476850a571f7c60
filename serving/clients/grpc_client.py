"""A TF Serving gRPC client on tensorflow_serving.apis: Predict, Classify,
GetModelMetadata (PredictionService) and GetModelStatus (ModelService), each with a deadline."""
from typing import Mapping, Optional, Sequence

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2, get_model_status_pb2,
                                     model_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc)

from models import features
from serving.clients.common import (DEFAULT_MODEL, Classification, Prediction, ServingClientError,
                                    as_array, text_example)


class GrpcClient:
  """One channel to host:port; `timeout` is each call's deadline in seconds."""

  def __init__(self, target: str = "localhost:8500", model_name: str = DEFAULT_MODEL,
               version: Optional[int] = None, timeout: float = 10.0,
               max_message_bytes: int = 64 * 1024 * 1024):
    self.model_name = model_name
    self.version = version
    self.timeout = timeout
    self._channel = grpc.insecure_channel(target, options=[
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes)])
    self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
    self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

  def close(self) -> None:
    self._channel.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def _spec(self, spec, signature_name: str = "") -> None:
    spec.name = self.model_name
    if self.version is not None:
      spec.version.value = self.version
    if signature_name:
      spec.signature_name = signature_name

  def _call(self, method, request):
    try:
      return method(request, timeout=self.timeout)
    except grpc.RpcError as e:
      raise ServingClientError(e.code().name, e.details()) from None

  def predict(self, inputs: Mapping[str, object], signature_name: str = features.SERVING_EXAMPLES_SIGNATURE,
              output_filter: Sequence[str] = ()) -> Prediction:
    request = predict_pb2.PredictRequest()
    self._spec(request.model_spec, signature_name)
    for key, value in inputs.items():
      array = as_array(value)
      request.inputs[key].CopyFrom(tf.make_tensor_proto(array, dtype=tf.string if array.dtype == object else None))
    request.output_filter.extend(output_filter)
    response = self._call(self._predictions.Predict, request)
    return Prediction({k: tf.make_ndarray(v) for k, v in response.outputs.items()},
                      response.model_spec.version.value)

  def predict_text(self, texts: Sequence[str]) -> Prediction:
    """Per-label probabilities and the label names for raw texts (multi-label: also decisions)."""
    return self.predict({features.TEXT_INPUT: list(texts)}, features.SERVING_TEXT_SIGNATURE)

  def classify(self, texts: Sequence[str], signature_name: str = features.CLASSIFY_SIGNATURE) -> Classification:
    request = classification_pb2.ClassificationRequest()
    self._spec(request.model_spec, signature_name)
    request.input.example_list.examples.extend(text_example(t) for t in texts)
    response = self._call(self._predictions.Classify, request)
    return Classification([[(c.label, c.score) for c in result.classes]
                           for result in response.result.classifications],
                          response.model_spec.version.value)

  def metadata(self) -> dict:
    """Signature name -> SignatureDef, from GetModelMetadata."""
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    self._spec(request.model_spec)
    response = self._call(self._predictions.GetModelMetadata, request)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    return dict(signatures.signature_def)

  def status(self) -> list[tuple[int, str]]:
    """(version, state) of every version the server knows, from GetModelStatus."""
    request = get_model_status_pb2.GetModelStatusRequest()
    self._spec(request.model_spec)
    response = self._call(self._models.GetModelStatus, request)
    return [(s.version, get_model_status_pb2.ModelVersionStatus.State.Name(s.state))
            for s in response.model_version_status]
