"""Loads the candidate in the local server, in its own process, on a fresh copy of the
model, and checks every signature over gRPC and REST against the model in process.

What TFX's InfraValidator does with TF Serving in a container (tfx/components/
infra_validator), with the stand-in server: a model that does not load, or answers
otherwise than the Trainer's SavedModel does in process, is not blessed (TFX's
INFRA_NOT_BLESSED file and `blessed` = 0), and the Pusher, which takes this blessing,
does not push it. REPORT_FILE says what was checked, and why a model was refused.
"""
import json
import os
import shutil
import tempfile
import time
from typing import Any

import numpy as np
import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as specs
from tfx.utils import io_utils
from tfx.utils import path_utils

from components.text_example_gen import written
from models import features
from serving.clients.common import ServingClientError, text_example
from serving.clients.grpc_client import GrpcClient
from serving.clients.rest_client import RestClient
from serving.local_server.launch import server_process

NUM_EXAMPLES_KEY = "num_examples"
SPLIT_KEY = "split"
MAX_LOADING_SECONDS_KEY = "max_loading_time_seconds"
REPORT_FILE = "infra_validation.json"
BLESSED_FILE, NOT_BLESSED_FILE = "INFRA_BLESSED", "INFRA_NOT_BLESSED"   # TFX's InfraValidator's names
BLESSED_PROPERTY = "blessed"    # what the Pusher reads (tfx.components.util.model_utils.is_infra_validated)
DEFAULTS = {NUM_EXAMPLES_KEY: 16, SPLIT_KEY: "test", MAX_LOADING_SECONDS_KEY: 300}
MODEL_NAME = "candidate"
TOLERANCE = 1e-5     # served and in-process numbers agree to this (absolute and relative)


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
    model = artifact_utils.get_single_instance(input_dict[specs.MODEL_KEY])
    examples = artifact_utils.get_single_instance(input_dict[specs.EXAMPLES_KEY])
    blessing = artifact_utils.get_single_instance(output_dict[specs.BLESSING_KEY])
    settings = {k: exec_properties.get(k) or v for k, v in DEFAULTS.items()}
    serialized = list(written.split_records(examples.uri, settings[SPLIT_KEY], settings[NUM_EXAMPLES_KEY]))
    report = validate(path_utils.serving_model_path(model.uri), serialized, settings[MAX_LOADING_SECONDS_KEY])
    report["examples"] = f"{len(serialized)} {settings[SPLIT_KEY]}-split examples"
    io_utils.write_string_file(os.path.join(blessing.uri, REPORT_FILE), json.dumps(report, indent=2))
    io_utils.write_string_file(os.path.join(blessing.uri, BLESSED_FILE if report["blessed"] else NOT_BLESSED_FILE), "")
    blessing.set_int_custom_property(BLESSED_PROPERTY, int(report["blessed"]))


def _texts(serialized: list[bytes]) -> list[str]:
  return [tf.train.Example.FromString(s).features.feature[features.DEFAULT_TEXT_KEY].bytes_list.value[0].decode("utf-8")
          for s in serialized]


def validate(model_path: str, serialized: list[bytes], max_loading_seconds: float) -> dict:
  """{"blessed", "why", "load_seconds", "checks": [{"api", "signature", "ok", "detail"}]}."""
  texts = _texts(serialized)
  in_process = tf.saved_model.load(model_path)
  with tempfile.TemporaryDirectory() as base:
    shutil.copytree(model_path, os.path.join(base, MODEL_NAME, "1"))   # a fresh base path: this model alone
    start = time.time()
    try:
      with server_process(MODEL_NAME, os.path.join(base, MODEL_NAME), ["--file_system_poll_wait_seconds=0.5"]) as (
          grpc_target, rest_url):
        with GrpcClient(grpc_target, MODEL_NAME, timeout=60) as grpc_client, \
             RestClient(rest_url, MODEL_NAME, timeout=60) as rest_client:
          why = _wait_until_loaded(grpc_client, max_loading_seconds)
          if why:
            return {"blessed": False, "why": why, "load_seconds": None, "checks": []}
          load_seconds = round(time.time() - start, 1)
          checks = _checks(in_process, serialized, texts, grpc_client, rest_client)
    except (RuntimeError, OSError) as e:   # the server did not start
      return {"blessed": False, "why": f"the local server did not start: {str(e)[-500:]}", "load_seconds": None,
              "checks": []}
  failed = [c for c in checks if not c["ok"]]
  why = "; ".join(f"{c['api']} {c['signature']}: {c['detail']}" for c in failed)
  return {"blessed": not failed, "why": why, "load_seconds": load_seconds, "checks": checks}


def _wait_until_loaded(client: GrpcClient, max_seconds: float) -> str:
  """"" once version 1 is AVAILABLE; else why not (it failed to load, or took too long)."""
  deadline = time.time() + max_seconds
  while time.time() < deadline:
    try:
      states = dict(client.status())
    except ServingClientError:
      states = {}
    if states.get(1) == "AVAILABLE":
      return ""
    if states.get(1) == "END":
      return "the server could not load the model (GetModelStatus: END; see its log)"
    time.sleep(0.5)
  return f"the model was not loaded within {max_seconds:g} s"


def _checks(model, serialized: list[bytes], texts: list[str], grpc_client: GrpcClient,
            rest_client: RestClient) -> list[dict]:
  """Every signature through gRPC Predict; Classify through gRPC and REST; serving_text
  through REST too. Each answer compared with the same call in process."""
  checks = []
  for name, function in sorted(model.signatures.items()):
    (key,) = function.structured_input_signature[1].keys()
    values = {features.TEXT_INPUT: [t.encode("utf-8") for t in texts]}.get(key, serialized)
    if key == features.CLASSIFY_INPUT:   # what a Classify client sends: the text alone
      values = [text_example(t).SerializeToString() for t in texts]
    expected = {k: v.numpy() for k, v in function(**{key: tf.constant(values)}).items()}
    checks.append(_check("gRPC Predict", name, expected, lambda: grpc_client.predict({key: values}, name).outputs))
    if name == features.CLASSIFY_SIGNATURE:
      scores = {features.SCORES_OUTPUT: expected[features.SCORES_OUTPUT]}
      checks.append(_check("gRPC Classify", name, scores, lambda: _scores(grpc_client.classify(texts))))
      checks.append(_check("REST classify", name, scores, lambda: _scores(rest_client.classify(texts))))
    if name == features.SERVING_TEXT_SIGNATURE:
      probabilities = {features.PROBABILITY_OUTPUT: expected[features.PROBABILITY_OUTPUT]}
      checks.append(_check("REST predict", name, probabilities, lambda: rest_client.predict_text(texts).outputs))
  return checks


def _scores(classification) -> dict:
  return {features.SCORES_OUTPUT: np.asarray([[score for _, score in pairs] for pairs in classification.results])}


def _check(api: str, signature: str, expected: dict, call) -> dict:
  try:
    served = call()
  except ServingClientError as e:
    return {"api": api, "signature": signature, "ok": False, "detail": f"answered {e}"[:300]}
  for key, want in expected.items():
    if key not in served:
      return {"api": api, "signature": signature, "ok": False, "detail": f"no output '{key}'"}
    got = np.asarray(served[key])
    if want.dtype.kind in "SOU":
      same = got.shape == want.shape and all(
          (a.decode() if isinstance(a, bytes) else str(a)) == (b.decode() if isinstance(b, bytes) else str(b))
          for a, b in zip(got.ravel(), want.ravel()))
    else:
      same = got.shape == want.shape and np.allclose(got, want, atol=TOLERANCE, rtol=TOLERANCE)
    if not same:
      diff = (f"largest difference {np.abs(got.astype(float) - want.astype(float)).max():.2e}"
              if got.shape == want.shape and want.dtype.kind not in "SOU" else f"shape {got.shape}, expected {want.shape}")
      return {"api": api, "signature": signature, "ok": False, "detail": f"output '{key}' differs: {diff}"}
  return {"api": api, "signature": signature, "ok": True, "detail": ", ".join(sorted(expected))}
