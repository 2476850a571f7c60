"""LocalInfraValidator's Do() on real SavedModels and a real server process: a model is
blessed only when every signature, over gRPC and REST, answers as it does in process;
the Pusher refuses a model without that blessing."""
import json
import os

import tensorflow as tf
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.utils import proto_utils

from components.local_infra_validator import executor
from components.staged_pusher import executor as pusher_executor
from models import features
from serving.clients.common import text_example
from tests.serving_helpers import save_toy_model

TEXTS = ["A wonderful film.", "Dull and far too long.", "ok", "Überraschend gut! 🎬"]


def _examples(tmp_path) -> standard_artifacts.Examples:
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / "examples")
  examples.split_names = '["train", "test"]'
  os.makedirs(f"{examples.uri}/Split-test")
  with tf.io.TFRecordWriter(f"{examples.uri}/Split-test/data.gz", options="GZIP") as writer:
    for text in TEXTS:
      writer.write(text_example(text).SerializeToString())
  return examples


def _validate(tmp_path, model_dir) -> standard_artifacts.InfraBlessing:
  model = standard_artifacts.Model()
  model.uri = str(model_dir)
  blessing = standard_artifacts.InfraBlessing()
  blessing.uri = str(tmp_path / "blessing")
  os.makedirs(blessing.uri)
  executor.Executor().Do({specs.MODEL_KEY: [model], specs.EXAMPLES_KEY: [_examples(tmp_path)]},
                         {specs.BLESSING_KEY: [blessing]}, {executor.NUM_EXAMPLES_KEY: 3})
  return blessing


def _report(blessing) -> dict:
  return json.loads(open(os.path.join(blessing.uri, executor.REPORT_FILE)).read())


def test_a_model_that_serves_as_it_answers_in_process_is_blessed(tmp_path):
  save_toy_model(tmp_path / "model" / "Format-Serving", weight=1.0)
  blessing = _validate(tmp_path, tmp_path / "model")
  report = _report(blessing)
  assert report["blessed"] and blessing.get_int_custom_property("blessed") == 1, report
  assert os.path.exists(os.path.join(blessing.uri, "INFRA_BLESSED"))
  checked = {(c["api"], c["signature"]) for c in report["checks"]}
  assert checked == {("gRPC Predict", features.SERVING_EXAMPLES_SIGNATURE),
                     ("gRPC Predict", features.SERVING_TEXT_SIGNATURE), ("gRPC Predict", features.CLASSIFY_SIGNATURE),
                     ("gRPC Classify", features.CLASSIFY_SIGNATURE), ("REST classify", features.CLASSIFY_SIGNATURE),
                     ("REST predict", features.SERVING_TEXT_SIGNATURE)}
  assert report["examples"] == "3 test-split examples"


class _Unstable(tf.Module):
  """Answers differently on every call: what no server can reproduce."""

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.TEXT_INPUT)])
  def serve_text(self, text):
    return {features.PROBABILITY_OUTPUT: tf.random.uniform([tf.shape(text)[0], 2])}


def test_a_model_that_answers_otherwise_when_served_is_refused_and_not_pushed(tmp_path):
  model = _Unstable()
  tf.saved_model.save(model, str(tmp_path / "model" / "Format-Serving"),
                      signatures={features.SERVING_TEXT_SIGNATURE: model.serve_text})
  blessing = _validate(tmp_path, tmp_path / "model")
  report = _report(blessing)
  assert not report["blessed"] and blessing.get_int_custom_property("blessed") == 0
  assert os.path.exists(os.path.join(blessing.uri, "INFRA_NOT_BLESSED"))
  assert "gRPC Predict serving_text: output 'probabilities' differs" in report["why"]
  # The Pusher, given this InfraBlessing beside a passed ModelBlessing, pushes nothing.
  model_artifact = standard_artifacts.Model()
  model_artifact.uri = str(tmp_path / "model")
  model_blessing = standard_artifacts.ModelBlessing()
  model_blessing.set_int_custom_property("blessed", 1)
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / "pushed")
  destination = pusher_pb2.PushDestination(
      filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(tmp_path / "serving")))
  pusher_executor.Executor().Do(
      {specs.MODEL_KEY: [model_artifact], specs.MODEL_BLESSING_KEY: [model_blessing],
       specs.INFRA_BLESSING_KEY: [blessing]},
      {specs.PUSHED_MODEL_KEY: [pushed]},
      {specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)})
  assert pushed.get_int_custom_property("pushed") == 0 and not (tmp_path / "serving").exists()


def test_a_model_not_loaded_within_the_limit_is_refused(tmp_path):
  save_toy_model(tmp_path / "model" / "Format-Serving", weight=1.0)
  report = executor.validate(str(tmp_path / "model" / "Format-Serving"), [], max_loading_seconds=0)
  assert not report["blessed"] and "not loaded within 0 s" in report["why"]
