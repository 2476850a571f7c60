"""The TF Serving-compatible local server over real SavedModels, through the real gRPC
stubs and HTTP: formats, errors, batching, versions. (The pipeline's own pushes are in
test_serving_e2e.py.)"""
import base64
import concurrent.futures
import gc
import ipaddress
import json
import shutil
import threading

import grpc
import numpy as np
import psutil
import pytest
import requests
import tensorflow as tf
from tensorflow.python.ops import gen_lookup_ops
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from models import features
from pipeline import paths
from serving.clients import cli
from serving.clients.common import ServingClientError, text_example
from serving.clients.grpc_client import GrpcClient
from serving.clients.rest_client import RestClient
from serving.local_server.batcher import BatchingParameters
from serving.local_server.servable import Servable, restored_resource_handles
from tests.serving_helpers import MODEL, running_server, save_toy_model, wait_until

TEXTS = ["short", "a somewhat longer review of a film", "ünïcode ✓ review"]


def _expected(weight, texts):
  return 1 / (1 + np.exp(-weight * np.array([len(t.encode()) for t in texts]) / 100.0))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
  base = tmp_path_factory.mktemp("models") / MODEL
  save_toy_model(base / "1", weight=1.0)
  return base


@pytest.fixture(scope="module")
def server(base):
  with running_server(base) as server:
    wait_until(lambda: server.store.states(MODEL)[0].state == "AVAILABLE", 30, "version 1")
    yield server


@pytest.fixture
def grpc_client(server):
  with GrpcClient(f"127.0.0.1:{server.grpc_port}", MODEL) as client:
    yield client


@pytest.fixture
def rest(server):
  return f"http://127.0.0.1:{server.rest_port}/v1/models/{MODEL}"


def test_binds_loopback_by_default(server):
  assert server.options.host == "127.0.0.1"
  assert server._rest.host == "127.0.0.1"  # pylint: disable=protected-access
  listening = [ipaddress.ip_address(c.laddr.ip) for c in psutil.net_connections("tcp")
               if c.status == "LISTEN" and c.laddr.port in (server.rest_port, server.grpc_port)]
  assert len(listening) >= 2, listening
  assert all((getattr(a, "ipv4_mapped", None) or a).is_loopback for a in listening), listening


def test_grpc_predict_and_classify(grpc_client):
  prediction = grpc_client.predict_text(TEXTS)
  assert prediction.version == 1
  np.testing.assert_allclose(prediction.outputs[features.PROBABILITY_OUTPUT][:, 1], _expected(1.0, TEXTS), atol=1e-6)
  classification = grpc_client.classify(TEXTS)
  assert [label for label, _ in classification.results[0]] == ["neg", "pos"]
  np.testing.assert_allclose([pairs[1][1] for pairs in classification.results], _expected(1.0, TEXTS), atol=1e-6)


def test_grpc_metadata_and_status(grpc_client):
  signatures = grpc_client.metadata()
  assert {features.SERVING_TEXT_SIGNATURE, features.CLASSIFY_SIGNATURE, "serving_default"} <= set(signatures)
  assert list(signatures[features.CLASSIFY_SIGNATURE].inputs) == ["inputs"]
  assert grpc_client.status() == [(1, "AVAILABLE")]


def test_rest_row_and_columnar_formats(rest):
  row = requests.post(f"{rest}:predict", json={"signature_name": "serving_text", "instances": TEXTS}).json()
  np.testing.assert_allclose([p["probabilities"][1] for p in row["predictions"]], _expected(1.0, TEXTS), atol=1e-6)
  assert [p["labels"] for p in row["predictions"]] == [["neg", "pos"]] * 3
  named = requests.post(f"{rest}:predict", json={"signature_name": "serving_text",
                                                  "instances": [{"text": t} for t in TEXTS]}).json()
  assert named == row
  columnar = requests.post(f"{rest}:predict", json={"signature_name": "serving_text", "inputs": {"text": TEXTS}}).json()
  assert columnar["outputs"]["probabilities"] == [p["probabilities"] for p in row["predictions"]]
  # One output: TF Serving drops its name in both formats.
  examples = [{"b64": base64.b64encode(text_example(t).SerializeToString()).decode()} for t in TEXTS]
  single = requests.post(f"{rest}:predict", json={"instances": examples}).json()
  np.testing.assert_allclose(np.ravel(single["predictions"]), _expected(1.0, TEXTS), atol=1e-6)
  b64 = requests.post(f"{rest}:predict", json={
      "signature_name": "serving_text",
      "instances": [{"b64": base64.b64encode(t.encode()).decode()} for t in TEXTS]}).json()
  assert b64 == row
  classify = requests.post(f"{rest}:classify", json={"signature_name": "classify",
                                                      "examples": [{"text": t} for t in TEXTS]}).json()
  assert [[label for label, _ in pairs] for pairs in classify["result"]] == [["neg", "pos"]] * 3
  np.testing.assert_allclose([pairs[1][1] for pairs in classify["result"]], _expected(1.0, TEXTS), atol=1e-6)


def test_rest_metadata_status_and_client(server, rest):
  status = requests.get(rest).json()
  assert status["model_version_status"][0]["version"] == "1"
  assert status["model_version_status"][0]["state"] == "AVAILABLE"
  metadata = requests.get(f"{rest}/metadata").json()
  assert metadata["model_spec"] == {"name": MODEL, "signature_name": "", "version": "1"}
  assert "classify" in metadata["metadata"]["signature_def"]["signature_def"]
  with RestClient(f"http://127.0.0.1:{server.rest_port}", MODEL) as client:
    np.testing.assert_allclose(client.predict_text(TEXTS).outputs["probabilities"][:, 1],
                               _expected(1.0, TEXTS), atol=1e-6)
    assert client.status() == [(1, "AVAILABLE")]
    assert client.classify(["x"]).best()[0][0] == "pos"


@pytest.mark.parametrize("body, status, message", [
    ({"signature_name": "nope", "instances": ["x"]}, 400, "not found"),
    ({"signature_name": "serving_text", "instances": [1.5, 2.0]}, 400, "expects string"),
    ({"signature_name": "serving_text", "instances": []}, 400, "empty"),
    ({"signature_name": "serving_text"}, 400, "instances"),
    ({"signature_name": "serving_text", "instances": [{"txt": "x"}]}, 400, "unknown ['txt']"),
    ({"signature_name": "classify", "examples": []}, 400, "examples"),
])
def test_rest_bad_requests(rest, body, status, message):
  verb = "classify" if "examples" in body else "predict"
  response = requests.post(f"{rest}:{verb}", json=body)
  assert response.status_code == status, response.text
  assert message in response.json()["error"]


def test_rest_bad_paths_json_and_size(server, rest):
  root = f"http://127.0.0.1:{server.rest_port}"
  assert requests.post(f"{root}/v1/models/unknown:predict", json={"instances": ["x"]}).status_code == 404
  missing_version = requests.post(f"{rest}/versions/7:predict", json={"instances": ["x"]})
  assert missing_version.status_code == 404 and "7" in missing_version.json()["error"]
  malformed = requests.post(f"{rest}:predict", data=b'{"instances": [', headers={"Content-Type": "application/json"})
  assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["error"]
  huge = requests.post(f"{rest}:predict", json={"instances": ["x" * (server.options.max_request_bytes + 10)]})
  assert huge.status_code == 413 and "exceeds" in huge.json()["error"]
  # ...and the server keeps serving.
  ok = requests.post(f"{rest}:predict", json={"signature_name": "serving_text", "instances": ["still here"]})
  assert ok.status_code == 200


def _raw_predict(server, request):
  with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}",
                             options=[("grpc.max_send_message_length", -1)]) as channel:
    return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=10)


def _request(signature="serving_text", model=MODEL, version=None, value=None):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model
  request.model_spec.signature_name = signature
  if version is not None:
    request.model_spec.version.value = version
  request.inputs["text"].CopyFrom(value if value is not None else tf.make_tensor_proto([b"x"]))
  return request


@pytest.mark.parametrize("request_kwargs, code", [
    (dict(model="unknown"), grpc.StatusCode.NOT_FOUND),
    (dict(version=99), grpc.StatusCode.NOT_FOUND),
    (dict(signature="nope"), grpc.StatusCode.INVALID_ARGUMENT),
    (dict(value=tf.make_tensor_proto([1.0, 2.0])), grpc.StatusCode.INVALID_ARGUMENT),
    (dict(value=tf.make_tensor_proto(np.array([], dtype=object), dtype=tf.string)), grpc.StatusCode.INVALID_ARGUMENT),
])
def test_grpc_bad_requests(server, request_kwargs, code):
  with pytest.raises(grpc.RpcError) as error:
    _raw_predict(server, _request(**request_kwargs))
  assert error.value.code() == code
  assert error.value.details()
  assert tf.make_ndarray(_raw_predict(server, _request()).outputs["probabilities"]).size  # still serving


def test_grpc_oversized_request(server):
  big = tf.make_tensor_proto([b"x" * (server.options.max_request_bytes + 10)])
  with pytest.raises(grpc.RpcError) as error:
    _raw_predict(server, _request(value=big))
  assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_client_error_carries_status(server):
  with GrpcClient(f"127.0.0.1:{server.grpc_port}", "unknown") as client:
    with pytest.raises(ServingClientError) as error:
      client.predict_text(["x"])
  assert error.value.status == "NOT_FOUND"


def test_cli_prints_label_and_probability(server, capsys, monkeypatch):
  # --model given: the default follows the checkout's outputs/last_run.json, whatever ran last there.
  assert cli.main(["--grpc", f"127.0.0.1:{server.grpc_port}", "--model", MODEL, "short", "a" * 300]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert [line.split("\t")[0] for line in lines] == ["pos", "pos"]
  assert float(lines[1].split("\t")[1]) == pytest.approx(_expected(1.0, ["a" * 300])[0], abs=1e-4)
  monkeypatch.setattr("sys.stdin", __import__("io").StringIO("from stdin\n"))
  assert cli.main(["--rest", f"http://127.0.0.1:{server.rest_port}", "--model", MODEL]) == 0
  assert capsys.readouterr().out.startswith("pos\t")
  assert cli.main(["--grpc", f"127.0.0.1:{server.grpc_port}", "--model", "unknown", "x"]) == 1
  assert "NOT_FOUND" in capsys.readouterr().err
  with pytest.raises(SystemExit):
    cli.main(["--grpc", f"127.0.0.1:{server.grpc_port}", "--model", MODEL, "fine", " "])
  assert "text 2 is empty" in capsys.readouterr().err


def test_cli_defaults_to_the_model_of_the_latest_run(server, tmp_path, capsys):
  grpc = ["--grpc", f"127.0.0.1:{server.grpc_port}"]
  (tmp_path / "last_run.json").write_text(json.dumps({"serving_model": MODEL}))
  assert cli.main([*grpc, "--output-dir", str(tmp_path), "x"]) == 0
  (tmp_path / "last_run.json").write_text(json.dumps({"serving_model": "trec"}))
  assert cli.main([*grpc, "--output-dir", str(tmp_path), "x"]) == 1
  assert f"served models: {MODEL}" in capsys.readouterr().err   # the server lists what it has


def test_make_serve_defaults_to_the_model_of_the_latest_run(tmp_path, monkeypatch, capsys):
  """The Makefile's MODEL and MODEL_BASE come from `python3 -m pipeline.paths`."""
  monkeypatch.setattr(paths, "OUTPUT_DIR", tmp_path)
  monkeypatch.chdir(tmp_path)
  assert paths.main(["serving-model"]) == 0 and capsys.readouterr().out == f"{paths.SAMPLE_SERVING_MODEL}\n"
  (tmp_path / paths.LAST_RUN_FILE).write_text(json.dumps({"serving_model": "trec"}))
  assert paths.main(["serving-model"]) == 0 and capsys.readouterr().out == "trec\n"
  assert paths.main(["model-base", "trec"]) == 0 and capsys.readouterr().out == "serving/trec\n"
  assert paths.main(["model-base"]) == 2


def test_concurrent_requests_are_batched_and_answered_correctly(tmp_path):
  base = tmp_path / MODEL
  save_toy_model(base / "1", weight=0.5)
  texts = [f"review number {i} " * (i + 1) for i in range(12)]
  # The batch runs when it is full: no timing window decides whether requests share it
  # (the 60 s timeout only bounds a broken batcher).
  params = BatchingParameters(max_batch_size=len(texts), batch_timeout_micros=60_000_000, num_batch_threads=1)
  with running_server(base, batching=params) as server:
    wait_until(lambda: server.store.get(MODEL), 30, "the model")
    barrier = threading.Barrier(len(texts))

    def one(text):
      with GrpcClient(f"127.0.0.1:{server.grpc_port}", MODEL) as client:
        barrier.wait()
        return client.predict_text([text]).outputs["probabilities"][0, 1]

    with concurrent.futures.ThreadPoolExecutor(len(texts)) as pool:
      got = list(pool.map(one, texts))
    np.testing.assert_allclose(got, _expected(0.5, texts), atol=1e-6)
    stats = server.batcher.stats
    assert stats["requests"] == len(texts)
    assert stats["batches"] == 1, stats  # all twelve shared one model call


def test_versions_pinning_switching_and_incomplete_pushes(tmp_path):
  base = tmp_path / MODEL
  save_toy_model(base / "1", weight=1.0)
  with running_server(base) as server:
    client = GrpcClient(f"127.0.0.1:{server.grpc_port}", MODEL)
    wait_until(lambda: server.store.states(MODEL)[0].state == "AVAILABLE", 30, "version 1")
    # A folder without saved_model.pb (a push in progress) is not a version yet.
    (base / "2").mkdir()
    (base / "2" / "variables").mkdir()
    # A folder whose saved_model.pb is garbage fails to load and is not served.
    (base / "3").mkdir()
    (base / "3" / "saved_model.pb").write_bytes(b"half-copied")
    wait_until(lambda: any(s.version == 3 and s.state == "END" for s in server.store.states(MODEL)), 30,
               "version 3 to fail")
    assert client.predict_text(["x"]).version == 1
    assert "3" not in json.dumps([s.version for s in server.store.states(MODEL) if s.state == "AVAILABLE"])
    # A complete new version is picked up; the old one stays reachable by pinning.
    shutil.rmtree(base / "3")
    save_toy_model(base / "4", weight=-1.0)
    wait_until(lambda: client.predict_text(["x"]).version == 4, 30, "the switch to version 4")
    np.testing.assert_allclose(client.predict_text(TEXTS).outputs["probabilities"][:, 1],
                               _expected(-1.0, TEXTS), atol=1e-6)
    pinned = GrpcClient(f"127.0.0.1:{server.grpc_port}", MODEL, version=1)
    assert pinned.predict_text(["x"]).version == 1
    rest = requests.post(f"http://127.0.0.1:{server.rest_port}/v1/models/{MODEL}/versions/1:predict",
                         json={"signature_name": "serving_text", "instances": TEXTS}).json()
    np.testing.assert_allclose([p["probabilities"][1] for p in rest["predictions"]], _expected(1.0, TEXTS), atol=1e-6)
    client.close()
    pinned.close()


def test_model_config_file_version_policy_and_labels(tmp_path):
  """--model_config_file as TF Serving reads it: a specific-versions policy and labels."""
  base = tmp_path / MODEL
  save_toy_model(base / "1", weight=1.0)
  save_toy_model(base / "2", weight=-1.0)
  save_toy_model(base / "3", weight=0.5)   # not in the policy: never loaded
  config = tmp_path / "models.config"
  config.write_text(f"""model_config_list {{ config {{
      name: "{MODEL}" base_path: "{base}" model_platform: "tensorflow"
      model_version_policy {{ specific {{ versions: 1 versions: 2 }} }}
      version_labels {{ key: "stable" value: 1 }} version_labels {{ key: "canary" value: 2 }} }} }}""")
  with running_server(base, model_name="", model_base_path="", model_config_file=str(config)) as server:
    wait_until(lambda: sorted(s.version for s in server.store.states(MODEL) if s.state == "AVAILABLE") == [1, 2],
               30, "versions 1 and 2")
    rest = f"http://127.0.0.1:{server.rest_port}/v1/models/{MODEL}"
    for label, weight in (("stable", 1.0), ("canary", -1.0)):
      answer = requests.post(f"{rest}/labels/{label}:predict",
                             json={"signature_name": "serving_text", "instances": TEXTS}).json()
      np.testing.assert_allclose([p["probabilities"][1] for p in answer["predictions"]],
                                 _expected(weight, TEXTS), atol=1e-6)
    assert requests.post(f"{rest}/labels/nope:predict", json={"instances": ["x"]}).status_code == 404
    assert 3 not in [s.version for s in server.store.states(MODEL)]
    with GrpcClient(f"127.0.0.1:{server.grpc_port}", MODEL) as client:
      assert client.predict_text(["x"]).version == 2   # the latest of the policy's versions


class _VocabularyModel(tf.Module):
  """A lookup table behind a signature, as the pushed models have (word pieces, labels)."""

  def __init__(self):
    super().__init__()
    self.table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(["neg", "pos"]), tf.constant([0, 1], tf.int64)), -1)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
  def serve(self, text):
    return {"ids": self.table.lookup(text)}


def test_a_dropped_version_frees_its_lookup_tables_but_not_while_held(tmp_path):
  """TF frees a loaded model's tables only at exit (about 3 MB a load of the real model,
  the leak benchmarks/serving_soak.py measured); the servable destroys them once nothing
  holds it. A request in flight holds its servable, so its tables stay until it ends."""
  model = _VocabularyModel()
  tf.saved_model.save(model, str(tmp_path / "1"), signatures={"serving_default": model.serve})
  servable = Servable(MODEL, 1, str(tmp_path / "1"))
  handles = restored_resource_handles(servable._model)  # pylint: disable=protected-access
  assert handles
  gc.collect()
  assert servable.signature("").run({"text": np.array([b"pos"], dtype=object)})["ids"].tolist() == [1]
  assert int(gen_lookup_ops.lookup_table_size_v2(handles[0])) == 2
  del servable
  gc.collect()
  with pytest.raises(tf.errors.NotFoundError):
    gen_lookup_ops.lookup_table_size_v2(handles[0])
