"""The whole pipeline on the real components, then the pushed model as a client sees it."""
import dataclasses
import json
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  the pushed model's tokenizer ops

from components.model_card_generator import artifact as card_artifact
from models import features
from models import model as model_lib
from models import nb_ratio
from models.embeddings import nb_ngram_bag
from pipeline import cli
from pipeline import paths
from pipeline import report
from pipeline import summary as summary_lib
from pipeline import run
from pipeline.config import PipelineConfig
from tests.conftest import NEGATIVE, POSITIVE, SAMPLE, fast_config, pushed_versions

pytestmark = pytest.mark.slow
INTENDED_USE = "Sorting movie reviews by sentiment for a demo; not for decisions about people.\n"


def errors_in_page(page: str) -> int:
  return page.count('<td class="text">')


def _example(text: str) -> bytes:
  return tf.train.Example(features=tf.train.Features(feature={
      "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))})).SerializeToString()


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
  """The main job as the README runs it (CLI, bundled sample, default config)."""
  out = tmp_path_factory.mktemp("run")
  intended_use = out / "intended_use.md"
  intended_use.write_text(INTENDED_USE)
  assert cli.main(["run", "--output-dir", str(out), "--intended-use", str(intended_use)]) == 0
  config = PipelineConfig(name="imdb-sentiment", output_dir=str(out))  # named after data/imdb-sentiment
  return config, json.loads((out / "last_run.json").read_text())


def test_sample_run_blesses_and_pushes(sample_run):
  config, summary = sample_run
  assert summary["blessed"] is True
  assert summary["metrics"]["example_count"] == 1000  # the sample's test split
  fitted = summary["fitted_floors"]["floors"]  # the defaults: floors fitted to the test split
  min_accuracy, min_auc = fitted["binary_accuracy"]["floor"], fitted["auc"]["floor"]
  assert fitted["binary_accuracy"]["trivial"] == 0.5 and fitted["auc"]["trivial"] == 0.5  # the sample is balanced
  assert summary["task"] == {"kind": "binary", "labels": ["neg", "pos"], "text_column": "text",
                             "label_column": "label", "label_delimiter": "|"}
  assert summary["metrics"]["binary_accuracy"] >= min_accuracy
  assert summary["metrics"]["auc"] >= min_auc
  versions = pushed_versions(config)
  assert len(versions) == 1
  assert summary["pushed_to"] == str(pathlib.Path(config.serving_model_dir) / versions[0])
  assert (pathlib.Path(summary["pushed_to"]) / "saved_model.pb").exists()


def test_the_run_names_its_serving_model_and_the_report_defaults_to_it(sample_run, tmp_path, capsys):
  config, summary = sample_run
  assert summary["serving_model"] == "imdb_sentiment"
  infra = summary["infra_validation"]   # the InfraValidator served the candidate before the push
  assert infra["blessed"] and all(c["ok"] for c in infra["checks"]), infra
  assert {c["signature"] for c in infra["checks"] if c["api"] == "gRPC Predict"} == {
      "serving_default", "serving_text", "classify", "transform_features"}   # every signature
  assert len(infra["checks"]) == 7   # and Classify over gRPC and REST, serving_text over REST
  assert summary["schema"].endswith("schemas/imdb-sentiment/schema.pbtxt")
  table = summary_lib.RunSummary(**summary).table()
  assert f"make serve MODEL=imdb_sentiment MODEL_BASE={config.serving_model_dir}," in table   # not outputs/
  assert "--model imdb_sentiment" in table
  pushed_by_make_run = str(pathlib.Path(paths.serving_model_dir("imdb_sentiment")) / "1")
  assert "make serve MODEL=imdb_sentiment, then" in summary_lib.RunSummary(
      **{**summary, "pushed_to": pushed_by_make_run}).serving_hint()
  assert re.search(r"infra validation +passed: served from a fresh copy", table), table
  page = tmp_path / "report.html"
  assert report.main(["--output-dir", config.output_dir, "--out", str(page)]) == 0   # no --name: the latest run
  text = page.read_text()
  assert "against the curated schema" in text and "=None" not in text and "hidden_units=16" in text
  assert "Error analysis (test split)" in text and summary["model_card"] in text   # linked to the card
  assert errors_in_page(text) == 10   # 5 mistakes per class
  nothing = tmp_path / "no-runs"
  assert report.main(["--output-dir", str(nothing)]) == 1
  assert "make run" in capsys.readouterr().err
  assert report.main(["--output-dir", config.output_dir, "--name", "never-run"]) == 1
  assert not nothing.exists() and not (pathlib.Path(config.output_dir) / "metadata" / "never-run").exists()


def test_the_table_made_from_the_artifacts_alone_is_the_runs(sample_run, tmp_path, capsys):
  """A Kubeflow run has no ML Metadata store here: kubeflow/container_run.py passes the
  artifacts its tasks wrote (URI and metadata, as the KFP executor output reports them)
  to `python -m pipeline.summary`, which must tell what `make run` told."""
  config, summary = sample_run
  from tfx.types import standard_artifacts   # pylint: disable=import-outside-toplevel
  from components.model_card_generator.artifact import ModelCard   # pylint: disable=import-outside-toplevel
  from kubeflow import container_run   # pylint: disable=import-outside-toplevel
  types = {"evaluation": (standard_artifacts.ModelEvaluation, "Evaluator"),
           "blessing": (standard_artifacts.ModelBlessing, "Evaluator"), "model": (standard_artifacts.Model, "Trainer"),
           "infra": (standard_artifacts.InfraBlessing, "InfraValidator"), "card": (ModelCard, "ModelCardGenerator"),
           "pushed": (standard_artifacts.PushedModel, "Pusher")}
  outputs = {}
  for role, (artifact_type, producer) in types.items():
    found = summary_lib.latest_output(config.metadata_path, artifact_type, producer)
    metadata = {k: v.string_value or float(v.int_value) for k, v in found.custom_properties.items()}
    outputs[container_run.TABLE_OUTPUTS[role]] = [{"uri": found.uri, "metadata": metadata}]
  args = container_run.summary_args(outputs, config.name, 66)
  assert args[:3] == ["python", "-m", "pipeline.summary"]
  assert summary_lib.main([*args[3:], "--json", str(tmp_path / "run.json")]) == 0
  table = summary_lib.RunSummary(**{**summary, "wall_seconds": 66}).table()
  assert capsys.readouterr().out.strip() == table.strip()
  from_artifacts = json.loads((tmp_path / "run.json").read_text())
  for field in ("metrics", "blessed", "pushed_to", "infra_validation", "model_card", "model", "serving_model"):
    assert from_artifacts[field] == summary[field], field


def test_the_model_card_is_pushed_with_the_model_and_names_its_mistakes(sample_run):
  config, summary = sample_run
  card_dir = pathlib.Path(summary["pushed_to"]) / card_artifact.PUSHED_CARD_DIR
  assert summary["model_card"] == str(card_dir / card_artifact.HTML_FILE)
  markdown = (card_dir / card_artifact.MARKDOWN_FILE).read_text()
  for section in ("## Model", "## Intended use", "## Data", "## Gate (test split, overall)", "## Metrics by slice",
                  "## Baseline comparison", "## Decision thresholds", "## Known limitations",
                  "## Error analysis (test split)", "## Lineage"):
    assert section in markdown, section
  assert INTENDED_USE.strip() in markdown and "hidden_units=16" in markdown and "tfx 1.21.0" in markdown
  assert "| test | 1,000 |" in markdown   # the data: examples per split
  assert f"| binary_accuracy | {summary['metrics']['binary_accuracy']:.4f} |" in markdown
  html_card = (card_dir / card_artifact.HTML_FILE).read_text()
  assert INTENDED_USE.strip() in html_card and "Error analysis" in html_card
  # The error analysis agrees with TFMA: as many test examples wrong as accuracy leaves,
  # each listed one really wrong, the most confident first.
  errors = json.loads((card_dir / card_artifact.ERRORS_FILE).read_text())
  assert errors["examples"] == summary["metrics"]["example_count"] == 1000
  assert errors["wrong"] == round((1 - summary["metrics"]["binary_accuracy"]) * 1000)
  assert sum(c["wrong"] for c in errors["classes"]) == errors["wrong"]
  assert {c["label"]: c["examples"] for c in errors["classes"]} == {"neg": 500, "pos": 500}
  for c in errors["classes"]:
    mistakes = c["mistakes"]
    assert len(mistakes) == 5
    assert all(m["true"] == [c["label"]] and m["predicted"] != m["true"] and m["probability"] >= 0.5
               for m in mistakes)
    assert [m["probability"] for m in mistakes] == sorted((m["probability"] for m in mistakes), reverse=True)
  # The most confident mistake is a real test example the pushed model scores as the card says.
  worst = errors["classes"][0]["mistakes"][0]
  split = pathlib.Path(config.pipeline_root).glob("TextExampleGen/examples/*/Split-test/*.gz")
  texts = [tf.train.Example.FromString(r).features.feature["text"].bytes_list.value[0].decode()
           for r in tf.data.TFRecordDataset(sorted(split), compression_type="GZIP").as_numpy_iterator()]
  [text] = [t for t in texts if " ".join(t.split()).startswith(worst["text"].rstrip("…"))]
  scored = tf.saved_model.load(summary["pushed_to"]).signatures[features.SERVING_TEXT_SIGNATURE](
      **{features.TEXT_INPUT: tf.constant([text])})[features.PROBABILITY_OUTPUT].numpy()[0]
  assert scored[1] == pytest.approx(worst["probability"], abs=1e-5)   # P(pos): a neg review called pos


def test_pushed_model_scores_through_both_signatures(sample_run):
  _, summary = sample_run
  model = tf.saved_model.load(summary["pushed_to"])
  by_examples = model.signatures[features.SERVING_EXAMPLES_SIGNATURE](
      **{features.EXAMPLES_INPUT: tf.constant([_example(POSITIVE), _example(NEGATIVE)])})
  by_text = model.signatures[features.SERVING_TEXT_SIGNATURE](
      **{features.TEXT_INPUT: tf.constant([POSITIVE, NEGATIVE])})
  p_examples = by_examples[features.PROBABILITY_OUTPUT].numpy().ravel()
  p_text = by_text[features.PROBABILITY_OUTPUT].numpy()[:, 1]  # a column per label: [P(neg), P(pos)]
  assert by_text[features.LABELS_OUTPUT].numpy().tolist() == [[b"neg", b"pos"]] * 2
  assert p_examples[0] > 0.5 > p_examples[1]
  assert p_text[0] > p_text[1]
  # Same cleanup on both paths: the two signatures agree.
  tf.debugging.assert_near(p_examples, p_text, atol=1e-6)
  assert ((p_examples >= 0) & (p_examples <= 1)).all()


def test_binary_default_is_the_nb_module_with_ratios_from_the_train_split(sample_run):
  config, summary = sample_run
  assert summary["model"]["embedding_handle"] == model_lib.DEFAULT_EMBEDDING["binary"] == nb_ngram_bag.NAME
  assert (summary["model"]["batch_size"], summary["model"]["learning_rate"]) == (256, 3e-3)  # the registry's
  saved = {v.name: v for v in tf.saved_model.load(summary["pushed_to"]).variables}
  [ratio] = [v.numpy() for name, v in saved.items() if nb_ratio.LOG_COUNT_RATIO in name]
  assert not np.allclose(ratio, 1.0)  # set by the Trainer, not the module's starting 1s
  [great] = nb_ngram_bag.word_ngram_ids(tf.constant(["great"]), ratio.size).to_list()
  [worst] = nb_ngram_bag.word_ngram_ids(tf.constant(["worst"]), ratio.size).to_list()
  assert ratio[great[0]] > 0 > ratio[worst[0]]
  # Counted on the train split alone: recounted here from Transform's train split they
  # match; counted on train and eval they would not.
  splits = {name: _transformed(config, name) for name in ("train", "eval")}
  def counted(*names):
    texts = tf.concat([splits[n][0] for n in names], 0)
    labels = tf.concat([splits[n][1] for n in names], 0)
    batches = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(256)
    ngram_ids = lambda t: nb_ngram_bag.word_ngram_ids(t, ratio.size)  # noqa: E731
    return nb_ratio.log_count_ratio(*nb_ratio.count_by_class(ngram_ids, batches, ratio.size))
  np.testing.assert_allclose(ratio, counted("train"), atol=1e-5)
  assert not np.allclose(ratio, counted("train", "eval"), atol=1e-5)


def _transformed(config, split: str):
  """(text_xf, label_xf) of Transform's output for a split, as the Trainer reads them."""
  import tensorflow_transform as tft
  [graph] = pathlib.Path(config.pipeline_root, "Transform", "transform_graph").glob("*")
  spec = tft.TFTransformOutput(str(graph)).transformed_feature_spec()
  files = [str(p) for p in pathlib.Path(config.pipeline_root, "Transform", "transformed_examples").glob(f"*/Split-{split}/*")]
  records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
  parsed = tf.io.parse_example(tf.constant(records), {k: spec[k] for k in (features.TEXT_XF, features.LABEL_XF)})
  return tf.reshape(parsed[features.TEXT_XF], [-1]), tf.reshape(tf.cast(parsed[features.LABEL_XF], tf.float32), [-1, 1])


def test_transform_signature_yields_label_ids(sample_run):
  _, summary = sample_run
  model = tf.saved_model.load(summary["pushed_to"])
  raw = tf.train.Example(features=tf.train.Features(feature={
      "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"Fine.<br />Good."])),
      "label": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"pos"]))})).SerializeToString()
  out = model.signatures[features.TRANSFORM_SIGNATURE](**{features.EXAMPLES_INPUT: tf.constant([raw])})
  assert out[features.LABEL_XF].numpy().ravel().tolist() == [1]
  assert out[features.TEXT_XF].numpy().ravel().tolist() == [b"Fine. Good."]


def test_csv_with_custom_columns_through_the_frozen_encoder(tmp_path):
  """Two things one run shows: a CSV with its own column names is read by them; and the
  transformer encoder chosen by name, frozen, trains the head on cached vectors and exports
  text -> encoder -> head, so the pushed model serves raw text."""
  import csv
  folder = tmp_path / "csv"
  folder.mkdir()
  with open(folder / "reviews.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["id", "review", "sentiment"])
    for split, n in (("train", 20), ("test", 10)):
      for label in ("neg", "pos"):
        for i, path in enumerate(sorted((SAMPLE / split / label).glob("*.txt"))[:n]):
          writer.writerow([f"{split}-{label}-{i}", path.read_text(), label])
  config = fast_config(folder, tmp_path / "out", schema_path=None)
  config = config.replace(data=dataclasses.replace(config.data, text_column="review", label_column="sentiment"),
                          model=dataclasses.replace(config.model, embedding_handle="minilm-l6-encoder",
                                                    trainable=False, epochs=2))
  summary = run.run(config)
  assert summary.metrics["example_count"] > 0
  assert summary.blessed and summary.pushed_to, summary.table()
  model = tf.saved_model.load(summary.pushed_to)
  p = model.signatures[features.SERVING_TEXT_SIGNATURE](**{features.TEXT_INPUT: tf.constant([POSITIVE, NEGATIVE])})
  assert p[features.PROBABILITY_OUTPUT].shape == (2, 2)
