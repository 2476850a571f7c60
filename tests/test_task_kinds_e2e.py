"""Multi-class (TREC sample) and multi-label (GoEmotions sample) through the whole pipeline,
then served: the local TF Serving stand-in, gRPC and REST clients, the CLI."""
import dataclasses
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

from components.model_card_generator import artifact as card_artifact
from models import features
from models import task as task_lib
from models import thresholds as thresholds_lib
from pipeline import cli, report, run, summary
from pipeline.config import REPO_ROOT, DataConfig
from serving.clients import cli as client_cli
from serving.clients.common import predicted_labels
from serving.clients.grpc_client import GrpcClient
from serving.clients.rest_client import RestClient
from serving.local_server.launch import server_process
from tests.conftest import fast_config, pushed_versions
from tests.serving_helpers import wait_until

pytestmark = pytest.mark.slow

QUESTIONS = ["Who wrote Hamlet ?", "Where is the Eiffel Tower ?", "How many legs does a spider have ?"]
COMMENTS = ["Thank you so much, this made my day!", "I am so angry right now.", "What do you mean?"]


def _run(name, tmp_path_factory, **data):
  out = tmp_path_factory.mktemp(name)
  config = fast_config(REPO_ROOT / "data" / name, out, name=name, model_card=True)   # the cards are tested below
  config = config.replace(data=DataConfig(path=str(REPO_ROOT / "data" / name), **data),
                          model=dataclasses.replace(config.model, epochs=1))
  result = run.run(config)
  assert result.blessed and result.pushed_to, result.table()
  return config, result


@pytest.fixture(scope="module")
def trec(tmp_path_factory):
  return _run("trec", tmp_path_factory, label_column="coarse")


@pytest.fixture(scope="module")
def goemotions(tmp_path_factory):
  return _run("goemotions", tmp_path_factory, label_column="labels")


def test_multi_class_is_judged_on_top1_accuracy_and_macro_auc(trec):
  config, result = trec
  assert result.task["kind"] == task_lib.MULTI_CLASS and result.task["labels"][0] == "ABBR"
  assert result.metrics["example_count"] == 250
  assert 0.0 <= result.accuracy <= 1.0 and 0.0 <= result.auc <= 1.0
  assert set(result.per_label) == set(result.task["labels"]) and "auc" in result.per_label["HUM"]
  candidate, _ = summary.model_names(result.evaluation_uri)  # "" on a first run, with no baseline
  plots = report.overall_plots(tfma.load_eval_result(result.evaluation_uri, model_name=candidate or None))
  matrix = plots["multiClassConfusionMatrixAtThresholds"]["matrices"][0]["entries"]
  assert sum(e.get("numWeightedExamples", 0) for e in matrix) == 250  # every test question, once
  assert "sparse categorical accuracy" in result.table() and "macro auc" in result.table()
  page = report.render(config)  # the HTML report: per-class table and the confusion matrix
  assert "Per label (one-vs-rest, overall)" in page and "<td>actual ABBR</td>" in page
  assert "predicted NUM" in page and "sparse_categorical_accuracy" in page


def test_multi_class_served_over_grpc_rest_and_the_cli(trec, capsys):
  config, result = trec
  model = tf.saved_model.load(result.pushed_to)
  expected = model.signatures[features.SERVING_TEXT_SIGNATURE](text=tf.constant(QUESTIONS))[features.PROBABILITY_OUTPUT]
  name = config.serving_name
  with server_process(name, config.serving_model_dir) as (grpc_target, rest_url):
    with GrpcClient(grpc_target, name, timeout=30) as grpc_client, RestClient(rest_url, name, timeout=30) as rest:
      wait_until(lambda: grpc_client.status(), 60, "the pushed version")
      classified = grpc_client.classify(QUESTIONS)
      assert all([label for label, _ in pairs] == list(result.task["labels"]) for pairs in classified.results)
      np.testing.assert_allclose([[s for _, s in pairs] for pairs in classified.results], expected, atol=1e-5)
      np.testing.assert_allclose([sum(s for _, s in pairs) for pairs in classified.results], 1.0, atol=1e-5)
      by_rest = rest.predict_text(QUESTIONS)
      np.testing.assert_allclose(by_rest.outputs[features.PROBABILITY_OUTPUT], expected, atol=1e-5)
      top = [labels[0][0] for labels in predicted_labels(by_rest)]
      assert top == [result.task["labels"][i] for i in np.asarray(expected).argmax(axis=1)]
      assert client_cli.main(["--grpc", grpc_target, "--model", name, *QUESTIONS]) == 0
    printed = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert printed == top


def test_multi_label_thresholds_metrics_and_serving(goemotions, capsys):
  config, result = goemotions
  assert result.task["kind"] == task_lib.MULTI_LABEL and len(result.task["labels"]) == 28
  for name in ("subset_accuracy", "macro_auc", "micro_auc", "macro_f1", "micro_f1", "macro_precision",
               "micro_recall"):
    assert name in result.metrics and result.metrics[name] == result.metrics[name], name  # present, not NaN
  assert {"auc", "precision", "recall", "f1_score"} <= set(result.per_label["neutral"])
  page = report.render(config)
  assert "subset_accuracy" in page and "<td>neutral</td>" in page and "f1_score" in page
  assert "micro_precision" in page and "micro_recall" in page
  # The gate's table: macro-F1 gated (here on fast_config's absolute floor), subset
  # accuracy beside its trivial predictor and not gated.
  assert "<tr><td>macro_f1</td>" in page and "<tr><td>subset_accuracy</td>" not in page
  assert '<tr class="ungated"><td>subset_accuracy</td>' in page and "most frequent label set" in page
  assert "test micro precision" in result.table() and "test micro recall" in result.table()
  model = tf.saved_model.load(result.pushed_to)
  # Subset accuracy and micro F1 as TFMA reported them, recomputed from the test split.
  test_files = tf.io.gfile.glob(f"{config.pipeline_root}/TextExampleGen/examples/*/Split-test/*")
  raw = tf.constant([r.numpy() for r in tf.data.TFRecordDataset(test_files, compression_type="GZIP")])
  labels = model.signatures[features.TRANSFORM_SIGNATURE](examples=raw)[features.LABEL_XF].numpy()
  decisions = model.signatures[features.SERVING_EXAMPLES_SIGNATURE](examples=raw)[features.DECISIONS_OUTPUT].numpy()
  assert result.metrics["subset_accuracy"] == pytest.approx((labels == decisions).all(axis=1).mean(), abs=1e-6)
  true_positives = (labels * decisions).sum()
  assert result.metrics["micro_f1"] == pytest.approx(2 * true_positives / (labels.sum() + decisions.sum()), abs=1e-4)
  # The gated macro AUC is the mean of the per-label AUCs (not the micro average), over
  # the labels the test split can judge (a positive and a negative example).
  left_out = result.fitted_floors["left_out_of_macro_averages"]
  per_label_auc = [result.per_label[label]["auc"] for label in result.task["labels"] if label not in left_out]
  assert len(per_label_auc) < 28 and all(0.0 < auc < 1.0 for auc in per_label_auc)
  assert result.metrics["macro_auc"] == pytest.approx(np.mean(per_label_auc), abs=1e-4)
  assert abs(result.metrics["macro_auc"] - result.metrics["micro_auc"]) > 1e-3
  out = model.signatures[features.SERVING_TEXT_SIGNATURE](text=tf.constant(COMMENTS))
  thresholds = out[features.THRESHOLDS_OUTPUT].numpy()
  assert thresholds.shape == (3, 28) and ((thresholds > 0) & (thresholds < 1)).all()
  # The served thresholds are the ones that maximise each label's F1 on the eval split.
  eval_files = tf.io.gfile.glob(f"{config.pipeline_root}/TextExampleGen/examples/*/Split-eval/*")
  raw_eval = tf.constant([r.numpy() for r in tf.data.TFRecordDataset(eval_files, compression_type="GZIP")])
  eval_labels = model.signatures[features.TRANSFORM_SIGNATURE](examples=raw_eval)[features.LABEL_XF].numpy()
  eval_probabilities = model.signatures[features.SERVING_EXAMPLES_SIGNATURE](
      examples=raw_eval)[features.PROBABILITY_OUTPUT].numpy()
  expected_thresholds = thresholds_lib.choose(eval_labels, eval_probabilities)
  assert (expected_thresholds != thresholds_lib.DEFAULT).any()  # the sample's eval split moves some
  np.testing.assert_allclose(thresholds[0], expected_thresholds, atol=1e-6)
  np.testing.assert_array_equal(out[features.DECISIONS_OUTPUT].numpy(),
                                (out[features.PROBABILITY_OUTPUT].numpy() >= thresholds).astype(np.float32))
  name = config.serving_name
  with server_process(name, config.serving_model_dir) as (grpc_target, rest_url):
    with GrpcClient(grpc_target, name, timeout=30) as grpc_client:
      wait_until(lambda: grpc_client.status(), 60, "the pushed version")
      served = predicted_labels(grpc_client.predict_text(COMMENTS))
      decisions = out[features.DECISIONS_OUTPUT].numpy()
      assert [[label for label, _ in row] for row in served] == [
          [result.task["labels"][j] for j in np.flatnonzero(row)] for row in decisions]
      classified = grpc_client.classify(COMMENTS)
      assert all(len(pairs) == 28 for pairs in classified.results)
    assert client_cli.main(["--rest", rest_url, "--model", name, *COMMENTS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.split("\t")[0] for line in lines)


def _card(result) -> tuple[str, dict]:
  folder = pathlib.Path(result.pushed_to) / card_artifact.PUSHED_CARD_DIR
  return ((folder / card_artifact.MARKDOWN_FILE).read_text(),
          json.loads((folder / card_artifact.ERRORS_FILE).read_text()))


def test_multi_class_card_lists_top1_mistakes_per_true_class(trec):
  _, result = trec
  markdown, errors = _card(result)
  assert errors["wrong"] == round((1 - result.accuracy) * 250)   # as TFMA counted them
  for c in errors["classes"]:
    assert all(m["true"] == [c["label"]] and m["predicted"][0] != c["label"] for m in c["mistakes"])
  assert "The label with the highest probability (top-1)." in markdown


def test_multi_label_card_has_the_served_thresholds_and_each_labels_wrong_decisions(goemotions):
  _, result = goemotions
  markdown, errors = _card(result)
  served = tf.saved_model.load(result.pushed_to).signatures[features.SERVING_TEXT_SIGNATURE](
      text=tf.constant(["x"]))[features.THRESHOLDS_OUTPUT].numpy()[0]
  assert list(errors["thresholds"]) == list(result.task["labels"])
  np.testing.assert_allclose(list(errors["thresholds"].values()), served, atol=1e-6)
  assert f"| neutral | {errors['thresholds']['neutral']:.3f} |" in markdown
  assert errors["wrong"] == round((1 - result.metrics["subset_accuracy"]) * errors["examples"])
  listed = [(c["label"], m) for c in errors["classes"] for m in c["mistakes"]]
  assert {m["error"] for _, m in listed} == {"missed", "false positive"}
  for label, m in listed:   # a wrong decision at the label's own threshold, not at 0.5
    threshold = errors["thresholds"][label]
    if m["error"] == "missed":
      assert label in m["true"] and label not in m["predicted"] and m["probability"] < threshold
    else:
      assert label not in m["true"] and label in m["predicted"] and m["probability"] >= threshold


def test_a_baseline_of_another_task_is_reported_not_compared(goemotions):
  """Same pipeline name, other labels: refused, naming both tasks, before anything runs."""
  config, _ = goemotions
  changed = config.replace(data=dataclasses.replace(config.data, path=str(REPO_ROOT / "data" / "trec"),
                                                    label_column="coarse"), schema_path=None, infer_schema=True)
  with pytest.raises(summary.BaselineTaskMismatchError) as info:
    run.run(changed)
  message = cli.user_error_message(info.value)
  assert "multi-label task with labels ['admiration'" in message and "multi-class task with labels ['ABBR'" in message
  assert len(pushed_versions(config)) == 1
