"""make score: new texts through the last blessed model (TextExampleGen -> BulkInferrer
[-> Evaluator]), labelled and unlabelled, CSV, JSON Lines and folders; bad input named."""
import csv
import json
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  the model's tokenizer ops

from models import features
from models import predictions
from pipeline import score
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def blessed(blessed_sample):
  config, result, _ = blessed_sample
  return config, result


def _args(config, *more) -> list:
  return ["--output-dir", config.output_dir, "--name", config.name, *more]


def test_labelled_folders_get_the_evaluators_metrics_again(blessed, tmp_path, capsys):
  """The sample's own test split, scored as new data, gives the Evaluator's metrics."""
  config, result = blessed
  out = tmp_path / "scores.csv"
  assert score.main(_args(config, "--data", str(SAMPLE / "test"), "--out", str(out))) == 0
  printed = capsys.readouterr().out
  assert f"binary accuracy  {result['metrics']['binary_accuracy']:.4f}" in printed, printed
  assert f"auc              {result['metrics']['auc']:.4f}" in printed
  rows = list(csv.DictReader(out.open()))
  assert len(rows) == 1000 and {r["predicted"] for r in rows} == {"neg", "pos"}
  right = sum(r["predicted"] == pathlib.Path(r["row_id"]).parent.name for r in rows)
  assert right / 1000 == pytest.approx(result["metrics"]["binary_accuracy"], abs=1e-9)
  assert all(float(r["p_pos"]) >= 0.5 if r["predicted"] == "pos" else float(r["p_pos"]) < 0.5 for r in rows)


def test_unlabelled_json_lines_scored_as_the_pushed_model_answers(blessed, tmp_path, capsys):
  config, result = blessed
  texts = ["A wonderful film, moving and funny.", "Dull and far too long; the worst acting.",
           "Ünïcode, \"quotes\", commas, and\nnew lines."]
  data = tmp_path / "new.jsonl"
  data.write_text("".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(texts)))
  out = tmp_path / "scores.jsonl"
  assert score.main(_args(config, "--data", str(data), "--out", str(out))) == 0
  printed = capsys.readouterr().out
  assert "unlabelled" in printed
  rows = [json.loads(line) for line in out.read_text().splitlines()]
  assert [r["text"] for r in rows] == texts
  assert [r["row_id"] for r in rows] == [f"{data}, line {i}" for i in (1, 2, 3)]
  expected = tf.saved_model.load(result["pushed_to"]).signatures[features.SERVING_TEXT_SIGNATURE](
      **{features.TEXT_INPUT: tf.constant(texts)})[features.PROBABILITY_OUTPUT].numpy()
  np.testing.assert_allclose([[r["probabilities"]["neg"], r["probabilities"]["pos"]] for r in rows], expected,
                             atol=1e-5)
  assert [r["predicted"] for r in rows] == [["pos" if p[1] >= 0.5 else "neg"] for p in expected]
  # BulkInferrer's TF Serving PredictionLogs: one per row, the row's example inside.
  logs = predictions.log_files(re.search(r"prediction logs +(\S+)", printed)[1])
  assert sum(1 for _ in tf.data.TFRecordDataset(logs, compression_type="GZIP")) == 3


def test_a_folder_of_text_files_is_unlabelled(blessed, tmp_path):
  config, _ = blessed
  folder = tmp_path / "unsup"
  folder.mkdir()
  for i, path in enumerate(sorted((SAMPLE / "test" / "pos").glob("*.txt"))[:7]):
    (folder / f"{i}.txt").write_bytes(path.read_bytes())
  out = tmp_path / "scores.csv"
  assert score.main(_args(config, "--data", str(folder), "--out", str(out))) == 0
  rows = list(csv.DictReader(out.open()))
  assert sorted(pathlib.Path(r["row_id"]).name for r in rows) == [f"{i}.txt" for i in range(7)]


@pytest.mark.parametrize("content, expected", [
    ("title,label\nfine,pos\n", "no column 'text' (columns: title, label)"),
    ("text\n\"unclosed\n", "malformed CSV"),
    ("text\n\"  \"\n", "line 2, column 'text': empty text"),
])
def test_bad_rows_are_named_and_nothing_is_written(blessed, tmp_path, capsys, content, expected):
  config, _ = blessed
  data = tmp_path / "bad.csv"
  data.write_text(content)
  out = tmp_path / "scores.csv"
  assert score.main(_args(config, "--data", str(data), "--out", str(out))) == 2
  err = capsys.readouterr().err
  assert expected in err and str(data) in err, err
  assert not out.exists()


def test_a_label_outside_the_models_vocabulary_is_named(blessed, tmp_path, capsys):
  config, _ = blessed
  data = tmp_path / "other.csv"
  data.write_text("text,label\ngreat,pos\nmeh,neutral\n")
  assert score.main(_args(config, "--data", str(data))) == 2
  assert "line 3, column 'label': label 'neutral' is not in the task's labels (neg, pos)" in capsys.readouterr().err


def test_no_blessed_model_or_no_run_is_said_plainly(tmp_path, capsys):
  assert score.main(["--output-dir", str(tmp_path), "--name", "never-run", "--data", str(SAMPLE / "test")]) == 2
  assert "no run of pipeline 'never-run'" in capsys.readouterr().err
  assert not (tmp_path / "metadata").exists()
