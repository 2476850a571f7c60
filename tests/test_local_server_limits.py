"""The local server against hostile clients: malformed framing, hostile JSON and tensors,
idle and surplus connections, broken pushes. Each case was a 5xx, a hang, a smuggled
request or a disturbed version before the server was hardened (issue 10)."""
import json
import os
import re
import shutil
import socket
import threading
import weakref

import grpc
import pytest
import requests
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving.clients.common import ServingClientError
from serving.clients.grpc_client import GrpcClient
from serving.local_server import model_store
from serving.local_server.errors import ServingError
from serving.local_server.model_store import ModelStore, single_model_config
from tests.serving_helpers import MODEL, running_server, save_toy_model, wait_until

MAX_ROWS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
  base = tmp_path_factory.mktemp("models") / MODEL
  save_toy_model(base / "1", weight=1.0)
  with running_server(base, max_batch_rows=MAX_ROWS, idle_timeout_seconds=1.0) as server:
    wait_until(lambda: server.store.get(MODEL), 30, "version 1")
    yield server


@pytest.fixture
def rest(server):
  return f"http://127.0.0.1:{server.rest_port}/v1/models/{MODEL}"


def _raw_http(server, data: bytes, timeout: float = 20) -> bytes:
  """Sends bytes on a fresh connection; returns everything the server sends until it closes."""
  with socket.create_connection(("127.0.0.1", server.rest_port), timeout=timeout) as sock:
    sock.sendall(data)
    received = b""
    while True:
      chunk = sock.recv(65536)
      if not chunk:
        return received
      received += chunk


def _responses(raw: bytes) -> list[tuple[int, dict]]:
  """(status, JSON body) of each HTTP response in a byte stream."""
  answers = []
  while raw:
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = int(next(l.split(":", 1)[1] for l in lines if l.lower().startswith("content-length")))
    answers.append((int(lines[0].split()[1]), json.loads(rest[:length])))
    raw = rest[length:]
  return answers


# --- framing: one request per Content-Length, nothing smuggled ----------------------
def _post_with_headers(headers: str, body: bytes) -> bytes:
  return (f"POST /v1/models/{MODEL}:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          f"{headers}\r\n").encode() + body


SMUGGLED = b"GET /v1/models/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("headers", [
    "Content-Length: -1\r\n",
    "Content-Length: abc\r\n",
    "Content-Length: 2\r\nContent-Length: 40\r\n",
    "Content-Length: +2\r\n",
])
def test_bad_content_length_is_a_400_and_nothing_is_smuggled(server, headers):
  answers = _responses(_raw_http(server, _post_with_headers(headers, b"{}" + SMUGGLED)))
  assert len(answers) == 1, answers            # the smuggled GET was never answered
  status, body = answers[0]
  assert status == 400 and "error" in body, answers


def test_oversized_body_gets_413_not_a_reset(server, rest):
  response = requests.post(f"{rest}:predict", data=b"x" * (10 * server.options.max_request_bytes),
                           headers={"Content-Type": "application/json"})
  assert response.status_code == 413 and "exceeds" in response.json()["error"]


@pytest.mark.parametrize("request_line", [b"GET /v1/models/x\r\n\r\n", b"GET /\r\n", b"GET /v1/models/x\n"])
def test_http09_request_line_gets_a_json_400(server, request_line):
  status, body = _responses(_raw_http(server, request_line))[0]
  assert status == 400 and "error" in body


def test_other_methods_get_json(server, rest):
  response = requests.put(f"{rest}:predict", json={"instances": ["x"]})
  assert response.status_code == 405 and "PUT" in response.json()["error"]


def test_idle_and_half_sent_connections_are_closed(server):
  # No bytes at all, then half a request line: both are closed by the server (recv ends).
  assert _raw_http(server, b"") == b""
  assert _raw_http(server, b"POST /v1/models/x:predict HTT") == b""


def test_idle_connections_do_not_count_and_requests_past_the_cap_get_503(tmp_path):
  save_toy_model(tmp_path / MODEL / "1", weight=1.0)
  with running_server(tmp_path / MODEL, max_connections=2) as capped:
    status_url = f"http://127.0.0.1:{capped.rest_port}/v1/models/{MODEL}"
    wait_until(lambda: capped.store.get(MODEL), 30, "version 1")
    idle = [socket.create_connection(("127.0.0.1", capped.rest_port)) for _ in range(6)]
    slow = [socket.create_connection(("127.0.0.1", capped.rest_port)) for _ in range(2)]
    try:
      assert requests.get(status_url).status_code == 200      # 6 idle connections lock nobody out
      # Two requests in progress (their bodies half sent) fill the cap of 2.
      for sock in slow:
        sock.sendall(_post_with_headers("Content-Length: 100\r\n", b'{"instances": '))
      wait_until(lambda: capped._rest._active == 2, 30, "two requests in progress")
      response = requests.get(status_url)
      assert response.status_code == 503 and "in progress" in response.json()["error"]
      metrics = requests.get(f"http://127.0.0.1:{capped.rest_port}/monitoring/prometheus/metrics").text
      assert 'local_server_refused_requests_total{api="rest",reason="requests_in_progress"} 1' in metrics
    finally:
      for sock in idle + slow:
        sock.close()
    wait_until(lambda: capped._rest._active == 0, 30, "the half-sent requests to end")
    assert requests.get(status_url).status_code == 200


# --- hostile JSON: client errors, never 500 -----------------------------------------
@pytest.mark.parametrize("verb, payload, message", [
    ("predict", b'{"instances": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested"),   # past Python's recursion
    ("predict", b'{"instances": ' + b"[" * 100 + b"]" * 100 + b"}", "nested more than 64"),   # past MAX_DEPTH
    ("predict", b'{"signature_name": "serving_text", "instances": [' + b"9" * 5000 + b"]}", "digits"),
    ("predict", b'{"signature_name": "serving_text", "instances": ["\\ud800"]}', "surrogate"),
    ("predict", b'{"signature_name": "serving_text", "instances": [{"\\ud800": "x"}]}', "surrogate"),
    ("classify", b'{"signature_name": "classify", "examples": [{"text": "\\udfff"}]}', "surrogate"),
    ("classify", b'{"signature_name": "classify", "examples": [{"text": ' + str(2**70).encode() + b"}]}",
     "64-bit"),
    ("classify", b'{"signature_name": "classify", "examples": [{"text": ' + str(2**63).encode() + b"}]}",
     "int64 range"),
    ("predict", b'{"signature_name": "serving_text", "instances": [{"txt": "x"}]}', "unknown ['txt']"),
])
def test_hostile_json_is_a_400_naming_the_problem(rest, verb, payload, message):
  response = requests.post(f"{rest}:{verb}", data=payload, headers={"Content-Type": "application/json"})
  assert response.status_code == 400, response.text
  assert message in response.json()["error"]


def test_huge_url_version_is_a_400(server):
  response = requests.get(f"http://127.0.0.1:{server.rest_port}/v1/models/{MODEL}/versions/{'9' * 5000}")
  assert response.status_code == 400 and "64-bit" in response.json()["error"]


def test_too_many_rows_is_refused(rest):
  response = requests.post(f"{rest}:predict", json={"signature_name": "serving_text",
                                                      "instances": ["x"] * (MAX_ROWS + 1)})
  assert response.status_code == 400 and f"at most {MAX_ROWS}" in response.json()["error"]


# --- hostile tensors: checked before anything is allocated ---------------------------
def _predict(server, tensor):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = MODEL
  request.model_spec.signature_name = "serving_text"
  request.inputs["text"].CopyFrom(tensor)
  with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
    return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)


def _string_tensor(dims, values=()):
  tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=list(values))
  for d in dims:
    tensor.tensor_shape.dim.add(size=d)
  return tensor


@pytest.mark.parametrize("tensor, message", [
    (_string_tensor([1, 2_000_000_000]), "carries 0 values"),   # 25 GB if expanded
    (_string_tensor([3]), "carries 0 values"),
    (_string_tensor([-1], [b"x"]), "negative"),
    (_string_tensor([MAX_ROWS + 1], [b"x"] * (MAX_ROWS + 1)), f"at most {MAX_ROWS}"),
    (tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape={"dim": [{"size": 2}]},
                            tensor_content=b"\0" * 7), "values"),
    (tensor_pb2.TensorProto(dtype=999), "no such DataType"),
    (tensor_pb2.TensorProto(dtype=-5), "no such DataType"),
])
def test_hostile_tensors_are_invalid_argument(server, tensor, message):
  with pytest.raises(grpc.RpcError) as error:
    _predict(server, tensor)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
  assert message in error.value.details()
  assert _predict(server, tf.make_tensor_proto([b"ok"])).outputs["probabilities"].tensor_shape.dim[0].size == 1


# --- model store: a broken push never disturbs what is served ------------------------
def test_a_broken_new_version_leaves_the_served_ones_alone(tmp_path):
  base = tmp_path / MODEL
  save_toy_model(base / "1", weight=1.0)
  save_toy_model(base / "2", weight=2.0)
  store = ModelStore(single_model_config(MODEL, str(base), num_versions=2), settle_seconds=0)
  store.poll_once()
  assert sorted(s.version for s in store.states(MODEL) if s.state == "AVAILABLE") == [1, 2]
  first = weakref.ref(store.get(MODEL, 1))
  (base / "3").mkdir()
  (base / "3" / "saved_model.pb").write_bytes(b"junk: a half-copied push")
  store.poll_once()
  assert store.get(MODEL, 1).version == 1 and store.get(MODEL).version == 2
  (failed,) = store.states(MODEL, 3)
  assert failed.state == "END" and "version 3 failed to load" in failed.error
  assert str(tmp_path) not in failed.error and not re.search(r"(^|[\s'\"])/", failed.error), failed.error
  # The broken folder removed, it is forgotten; a good version 4 retires version 1,
  # whose memory is released.
  (base / "3" / "saved_model.pb").unlink()
  (base / "3").rmdir()
  save_toy_model(base / "4", weight=4.0)
  store.poll_once()
  assert [s.version for s in store.states(MODEL)] == [4, 2, 1]
  assert store.get(MODEL).version == 4
  model_store.release_memory()
  assert first() is None, "the retired version is still referenced"


def test_unknown_model_names_are_cut_and_the_served_models_listed(server):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = "m" * 10_000
  with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
    with pytest.raises(grpc.RpcError) as error:
      prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
  assert error.value.code() == grpc.StatusCode.NOT_FOUND
  assert len(error.value.details()) < 500 and f"served models: {MODEL}" in error.value.details()


# --- the base path: nothing in it can stop, block or mislead the poller --------------
def _poll_in_a_thread(store: ModelStore) -> None:
  """poll_once, turned from a hang (a blocked read) into a failure."""
  poller = threading.Thread(target=store.poll_once, daemon=True)
  poller.start()
  poller.join(120)
  assert not poller.is_alive(), "the poller is blocked"


def test_stray_entries_are_reported_and_never_stop_the_poller(tmp_path):
  base = tmp_path / MODEL
  save_toy_model(base / "1", weight=1.0)
  for name in ["²", "١٢", "-1", "1e3", "99999999999999999999"]:
    shutil.copytree(base / "1", base / name)       # each a loadable model, misnamed
  (base / "7").write_text("a file, not a folder")
  (base / "8").symlink_to(base / "8")              # a symlink loop
  (base / ".incomplete-0a1b").mkdir()              # the Pusher's staging folder: ignored
  shutil.copytree(base / "1", base / "0003")       # leading zeros: version 3, as in TF Serving
  shutil.copytree(base / "1", base / "003")        # ... so this one names it twice
  store = ModelStore(single_model_config(MODEL, str(base)), settle_seconds=0)
  _poll_in_a_thread(store)
  assert store.get(MODEL).version == 3             # not 99999999999999999999
  assert [s.version for s in store.states(MODEL)] == [3, 1]
  skipped = store.skipped(MODEL)
  assert sorted(skipped) == sorted(["²", "١٢", "-1", "1e3", "99999999999999999999", "7", "8", "0003"])
  assert "ASCII digits" in skipped["²"] and "int64" in skipped["99999999999999999999"]
  assert "not a folder" in skipped["7"] and "'003'" in skipped["0003"]
  # A later good push still loads.
  save_toy_model(base / "4", weight=4.0)
  _poll_in_a_thread(store)
  assert store.get(MODEL).version == 4


def test_fifos_and_symlink_loops_in_a_version_are_reported_not_opened(tmp_path):
  base = tmp_path / MODEL
  save_toy_model(base / "1", weight=1.0)
  (base / "2").mkdir()
  os.mkfifo(base / "2" / "saved_model.pb")         # a read of it would block for good
  shutil.copytree(base / "1", base / "3")
  (base / "3" / "variables" / "loop").symlink_to(base / "3" / "variables" / "loop")
  shutil.copytree(base / "1", base / "4")
  (base / "4" / "variables" / "variables.index").unlink()
  os.mkfifo(base / "4" / "variables" / "variables.index")
  store = ModelStore(single_model_config(MODEL, str(base), num_versions=4), settle_seconds=0)
  _poll_in_a_thread(store)
  states = {s.version: s for s in store.states(MODEL)}
  assert states[1].state == "AVAILABLE" and store.get(MODEL).version == 1
  assert states[2].state == "END" and "saved_model.pb is not a regular file" in states[2].error
  assert states[3].state == "END" and "variables/loop cannot be read" in states[3].error
  assert states[4].state == "END" and "variables/variables.index is not a regular file" in states[4].error
  save_toy_model(base / "5", weight=5.0)
  _poll_in_a_thread(store)
  assert store.get(MODEL).version == 5


def test_a_version_may_be_a_symlink_as_in_tf_serving(tmp_path):
  elsewhere = save_toy_model(tmp_path / "elsewhere" / "model", weight=2.0)
  base = tmp_path / MODEL
  base.mkdir()
  (base / "1").symlink_to(elsewhere)
  (base / "2").symlink_to("/usr")                  # no saved_model.pb: waited on, never walked
  store = ModelStore(single_model_config(MODEL, str(base)), settle_seconds=0)
  _poll_in_a_thread(store)
  assert store.get(MODEL).version == 1 and [s.version for s in store.states(MODEL)] == [1]


def test_a_model_with_nothing_to_serve_says_why(tmp_path):
  base = tmp_path / MODEL
  base.mkdir()
  store = ModelStore(single_model_config(MODEL, str(base)), settle_seconds=0)
  _poll_in_a_thread(store)
  with pytest.raises(ServingError, match="holds no version folder"):
    store.get(MODEL)
  (base / "v1").mkdir()
  _poll_in_a_thread(store)
  with pytest.raises(ServingError, match="'v1': a version is named by ASCII digits only"):
    store.states(MODEL)


def test_a_server_fault_shows_an_incident_id_not_its_exception(server, rest, monkeypatch):
  def fault(*_):
    raise RuntimeError("cannot read /srv/secret/models/saved_model.pb")
  monkeypatch.setattr(server.inference, "status", fault)
  response = requests.get(rest)
  assert response.status_code == 500 and "incident" in response.json()["error"]
  assert "/srv/secret" not in response.text and "RuntimeError" not in response.text
  with GrpcClient(f"127.0.0.1:{server.grpc_port}", MODEL) as client:
    with pytest.raises(ServingClientError) as error:
      client.status()
  assert error.value.status == "INTERNAL" and "/srv/secret" not in str(error.value)
