"""A TF Serving REST client: /v1/models/<name>[/versions/<v>] :predict, :classify,
/metadata and status, over one keep-alive session with connect and read timeouts."""
from typing import Mapping, Optional, Sequence

import numpy as np
import requests

from models import features
from serving.clients.common import DEFAULT_MODEL, Classification, Prediction, ServingClientError


class RestClient:

  def __init__(self, base_url: str = "http://localhost:8501", model_name: str = DEFAULT_MODEL,
               version: Optional[int] = None, timeout: float = 10.0, connect_timeout: float = 3.0):
    self.base_url = base_url.rstrip("/")
    self.model_name = model_name
    self.version = version
    self.timeout = (connect_timeout, timeout)
    self._session = requests.Session()

  def close(self) -> None:
    self._session.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  @property
  def model_url(self) -> str:
    url = f"{self.base_url}/v1/models/{self.model_name}"
    return url if self.version is None else f"{url}/versions/{self.version}"

  def _request(self, method: str, url: str, body=None) -> dict:
    try:
      response = self._session.request(method, url, json=body, timeout=self.timeout)
    except requests.Timeout as e:
      raise ServingClientError("DEADLINE_EXCEEDED", f"{url}: {e}") from None
    except requests.ConnectionError as e:
      raise ServingClientError("UNAVAILABLE", f"{url}: {e}") from None
    try:
      payload = response.json()
    except ValueError:
      payload = {"error": response.text[:200]}
    if response.status_code != 200:
      raise ServingClientError(str(response.status_code), payload.get("error", response.reason))
    return payload

  def predict(self, instances: Sequence = None, signature_name: str = features.SERVING_EXAMPLES_SIGNATURE,
              inputs: Mapping = None) -> Prediction:
    """Row format with `instances`, columnar with `inputs`; outputs as numpy arrays."""
    body = {"signature_name": signature_name}
    if inputs is not None:
      body["inputs"] = inputs
      payload = self._request("POST", f"{self.model_url}:predict", body)["outputs"]
    else:
      body["instances"] = list(instances)
      payload = self._request("POST", f"{self.model_url}:predict", body)["predictions"]
    if isinstance(payload, dict):
      return Prediction({k: np.asarray(v) for k, v in payload.items()}, self.version)
    if payload and isinstance(payload[0], dict):
      return Prediction({k: np.asarray([row[k] for row in payload]) for k in payload[0]}, self.version)
    return Prediction({"": np.asarray(payload)}, self.version)  # one output: TF Serving drops its name

  def predict_text(self, texts: Sequence[str]) -> Prediction:
    """Per-label probabilities and the label names for raw texts (multi-label: also decisions)."""
    return self.predict(list(texts), features.SERVING_TEXT_SIGNATURE)

  def classify(self, texts: Sequence[str], signature_name: str = features.CLASSIFY_SIGNATURE) -> Classification:
    body = {"signature_name": signature_name,
            "examples": [{features.DEFAULT_TEXT_KEY: t} for t in texts]}
    result = self._request("POST", f"{self.model_url}:classify", body)["result"]
    return Classification([[(label, score) for label, score in pairs] for pairs in result], self.version)

  def metadata(self) -> dict:
    return self._request("GET", f"{self.model_url}/metadata")["metadata"]["signature_def"]["signature_def"]

  def status(self) -> list[tuple[int, str]]:
    payload = self._request("GET", self.model_url)
    return [(int(s["version"]), s["state"]) for s in payload["model_version_status"]]
