"""Request logs and drift: the local server logs a sample of requests as PredictionLogs;
make drift compares the logged texts' derived features with the eval split's (TFDV,
Jensen-Shannon divergence). An IMDB model sent TREC questions is flagged; sent IMDB test
reviews, it is not."""
import csv
import glob
import os

import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from models import task as task_lib
from pipeline import drift, report
from pipeline.config import REPO_ROOT
from serving.clients.grpc_client import GrpcClient
from serving.clients.rest_client import RestClient
from serving.local_server import request_log
from serving.local_server.launch import server_process
from tests.conftest import SAMPLE
from tests.serving_helpers import wait_until

pytestmark = pytest.mark.slow


def _trec_questions() -> list[str]:
  with open(REPO_ROOT / "data" / "trec" / "test.csv", encoding="utf-8") as f:
    return [row["text"] for row in csv.DictReader(f)][:120]


def _imdb_reviews() -> list[str]:
  paths = sorted(SAMPLE.glob("test/*/*.txt"))[::8]   # both classes, 125 reviews
  return [p.read_text(encoding="utf-8") for p in paths]


def _serve_and_log(config, texts: list[str], log_dir, rate: float = 1.0) -> None:  # rate 1: every request
  """Sends the texts over gRPC (serving_text and Classify) and REST, ten at a time."""
  args = [f"--request_log_dir={log_dir}", f"--request_log_rate={rate}"]
  with server_process(config.serving_name, config.serving_model_dir, args) as (grpc_target, rest_url):
    with GrpcClient(grpc_target, config.serving_name, timeout=30) as grpc_client, \
         RestClient(rest_url, config.serving_name, timeout=30) as rest:
      wait_until(lambda: grpc_client.status(), 60, "the pushed version")
      for i in range(0, len(texts), 10):
        batch = texts[i:i + 10]
        [grpc_client.predict_text, grpc_client.classify, rest.predict_text][(i // 10) % 3](batch)


def test_requests_are_logged_as_prediction_logs_with_their_answers(blessed_sample, tmp_path):
  config, _, _ = blessed_sample
  texts = _trec_questions()[:30]
  _serve_and_log(config, texts, tmp_path / "logs")
  logged = [prediction_log_pb2.PredictionLog.FromString(r)
            for r in tf.data.TFRecordDataset(sorted(glob.glob(str(tmp_path / "logs" / "requests-*.tfrecord"))))
            .as_numpy_iterator()]
  assert len(logged) == 3   # one per request, every request sampled at rate 1
  assert {e.WhichOneof("log_type") for e in logged} == {"predict_log", "classify_log"}
  predicted = [e for e in logged if e.HasField("predict_log")][0].predict_log
  assert predicted.request.model_spec.name == config.serving_name and predicted.response.outputs["probabilities"]
  rows = list(drift.logged(str(tmp_path / "logs"), task_lib.Task("binary", ("neg", "pos")), {}))
  assert [text for text, _ in rows] == texts


def test_the_log_folder_stays_bounded(tmp_path):
  bound = 3 * request_log.FILE_BYTES
  log = request_log.RequestLog(str(tmp_path), 1.0, max_bytes=bound, seed=0)
  text = "x" * 200_000
  for _ in range(100):   # about 20 MB of requests into a 12 MB bound
    log.predict("m", 1, "serving_text", {"text": tf.constant([text]).numpy()}, {"p": tf.constant([[0.5]]).numpy()})
  log.close()
  files = sorted(glob.glob(str(tmp_path / "requests-*.tfrecord")))
  assert sum(os.path.getsize(p) for p in files) <= bound
  assert len(files) == 3 and files[-1].endswith("requests-000005.tfrecord")   # the oldest two deleted
  with pytest.raises(ValueError, match="request_log_rate"):
    request_log.RequestLog(str(tmp_path), 0.0, max_bytes=2 * request_log.FILE_BYTES)


def test_trec_questions_sent_to_an_imdb_model_are_flagged_imdb_reviews_are_not(blessed_sample, tmp_path):
  config, _, _ = blessed_sample
  _serve_and_log(config, _trec_questions(), tmp_path / "trec")
  _serve_and_log(config, _imdb_reviews(), tmp_path / "imdb")
  trec = drift.compare(config, str(tmp_path / "trec"), str(tmp_path / "out-trec"))
  imdb = drift.compare(config, str(tmp_path / "imdb"), str(tmp_path / "out-imdb"))
  assert trec["rows"] == 120 and imdb["rows"] == 125
  assert trec["schema"].endswith("schemas/imdb-sentiment/drift.pbtxt")
  assert set(trec["features"]) == set(drift.FEATURES)
  flagged = {f for f, v in trec["features"].items() if v["drifted"]}
  assert {"words", "oov_share", "upper_share"} <= flagged and trec["anomalies"], trec
  assert not [f for f, v in imdb["features"].items() if v["drifted"]], imdb
  assert not imdb["anomalies"]
  assert (tmp_path / "out-trec" / "anomalies.pbtxt").exists()
  # make drift, and the report's drift section showing the latest comparison.
  assert drift.main(["--logs", str(tmp_path / "trec"), "--output-dir", config.output_dir,
                     "--name", config.name]) == 0
  page = report.render(config)
  assert "Drift (logged traffic vs. the eval split)" in page and "DRIFTED" in page
