"""Pipeline push -> `python -m serving.local_server` -> gRPC and REST clients, on the
real pipeline's pushed models; and a second push while clients keep sending."""
import dataclasses
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  the pushed model's tokenizer ops

from models import features
from pipeline import run
from serving.clients.common import ServingClientError, text_example
from serving.clients.grpc_client import GrpcClient
from serving.clients.rest_client import RestClient
from tests.conftest import NEGATIVE, POSITIVE, fast_config, make_aclimdb, pushed_versions
from serving.local_server.launch import server_process
from tests.serving_helpers import MODEL, wait_until

pytestmark = pytest.mark.slow

TEXTS = [POSITIVE, NEGATIVE, "Fine.<br />Not great, not awful.", "Überraschend gut! 🎬", "x"]


@pytest.fixture(scope="module")
def first_push(tmp_path_factory):
  root = tmp_path_factory.mktemp("serving_e2e")
  config = fast_config(make_aclimdb(root / "aclImdb", {"train": 40, "test": 20}), root / "out")
  config = config.replace(model_name=MODEL)
  summary = run.run(config)
  assert summary.pushed_to, summary.table()
  return config, summary.pushed_to


def _in_process(pushed_to):
  model = tf.saved_model.load(pushed_to)
  by_text = model.signatures[features.SERVING_TEXT_SIGNATURE](text=tf.constant(TEXTS))
  examples = tf.constant([text_example(t).SerializeToString() for t in TEXTS])
  by_examples = model.signatures[features.SERVING_EXAMPLES_SIGNATURE](examples=examples)
  return (by_text[features.PROBABILITY_OUTPUT].numpy()[:, 1],
          by_examples[features.PROBABILITY_OUTPUT].numpy().ravel())


def test_grpc_and_rest_agree_with_the_in_process_model(first_push):
  config, pushed_to = first_push
  expected_text, expected_examples = _in_process(pushed_to)
  # Raw text and serialized examples go through the same cleaning (the `<br />` review).
  np.testing.assert_allclose(expected_text, expected_examples, atol=1e-5)
  version = int(pushed_versions(config)[-1])
  with server_process(MODEL, config.serving_model_dir, ["--file_system_poll_wait_seconds=0.5"]) as (grpc_target, rest_url):
    with GrpcClient(grpc_target, MODEL, timeout=30) as grpc_client, RestClient(rest_url, MODEL, timeout=30) as rest:
      wait_until(lambda: grpc_client.status() == [(version, "AVAILABLE")], 60, "the pushed version")
      predicted = grpc_client.predict_text(TEXTS)
      assert predicted.version == version
      np.testing.assert_allclose(predicted.outputs[features.PROBABILITY_OUTPUT][:, 1], expected_text, atol=1e-6)
      examples = [text_example(t).SerializeToString() for t in TEXTS]
      by_examples = grpc_client.predict({features.EXAMPLES_INPUT: examples})
      np.testing.assert_allclose(by_examples.outputs[features.PROBABILITY_OUTPUT].ravel(), expected_examples, atol=1e-6)
      classified = grpc_client.classify(TEXTS)
      assert [[label for label, _ in pairs] for pairs in classified.results] == [["neg", "pos"]] * len(TEXTS)
      np.testing.assert_allclose([pairs[1][1] for pairs in classified.results], expected_examples, atol=1e-6)
      np.testing.assert_allclose(rest.predict_text(TEXTS).outputs[features.PROBABILITY_OUTPUT][:, 1],
                                 expected_text, atol=1e-6)
      np.testing.assert_allclose([pairs[1][1] for pairs in rest.classify(TEXTS).results], expected_examples, atol=1e-6)
      assert set(grpc_client.metadata()) >= {"serving_default", "serving_text", "classify", "transform_features"}


def test_second_push_switches_versions_with_no_failed_request(first_push):
  config, _ = first_push
  first = int(pushed_versions(config)[-1])
  seen, failures, stop = [], [], threading.Event()

  def keep_asking(client_factory):
    with client_factory() as client:
      while not stop.is_set():
        try:
          answer = client.predict_text(TEXTS[:2])
          seen.append(answer.version)
        except ServingClientError as e:
          failures.append(str(e))

  with server_process(MODEL, config.serving_model_dir, ["--file_system_poll_wait_seconds=0.5"]) as (grpc_target, rest_url):
    with GrpcClient(grpc_target, MODEL, timeout=30) as probe:
      wait_until(lambda: probe.status() == [(first, "AVAILABLE")], 60, "the first version")
    clients = [threading.Thread(target=keep_asking, args=(lambda: GrpcClient(grpc_target, MODEL, timeout=30),)),
               threading.Thread(target=keep_asking, args=(lambda: RestClient(rest_url, MODEL, timeout=30),))]
    for t in clients:
      t.start()
    try:
      time.sleep(1)
      # The second push, while both clients keep sending: another epoch, so another model;
      # --resume reuses what comes before the Trainer.
      summary = run.run(config.replace(resume=True, model=dataclasses.replace(config.model, epochs=2)))
      assert summary.pushed_to, summary.table()
      second = int(pushed_versions(config)[-1])
      assert second > first
      wait_until(lambda: second in seen[-5:], 60, "answers from the second version")
      count_at_switch = len(seen)
      wait_until(lambda: len(seen) > count_at_switch + 20, 30, "more answers after the switch")
    finally:
      stop.set()
      for t in clients:
        t.join(timeout=60)
  assert failures == []
  grpc_versions = [v for v in seen if v is not None]
  assert grpc_versions[0] == first and grpc_versions[-1] == second
  assert grpc_versions == sorted(grpc_versions)  # switched once, never back
