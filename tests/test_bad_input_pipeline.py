"""Bad data through the real components: a clear error naming the problem, no push."""
import pytest

from components.errors import AnomaliesFoundError, InputDataError
from pipeline import cli
from pipeline import run
from pipeline.config import REPO_ROOT
from tests.conftest import fast_config, pushed_versions

pytestmark = pytest.mark.slow


def _run_expecting(config, error_type, pattern):
  with pytest.raises(Exception) as info:
    run.run(config)
  message = cli.user_error_message(info.value)
  assert message is not None, f"not reported as a user error: {info.value!r}"
  assert message.startswith(error_type.__name__)
  assert pattern in message, message
  assert pushed_versions(config) == []
  return message


def test_empty_review_file(tiny_imdb, tmp_path):
  bad = tiny_imdb / "train" / "neg" / "99999_1.txt"
  bad.write_text("  \n")
  _run_expecting(fast_config(tiny_imdb, tmp_path / "out"), InputDataError, f"{bad}: empty text file")


def test_non_utf8_review_file(tiny_imdb, tmp_path):
  bad = tiny_imdb / "test" / "pos" / "99999_9.txt"
  bad.write_bytes(b"Great film \xff\xfe really")
  _run_expecting(fast_config(tiny_imdb, tmp_path / "out"), InputDataError, f"{bad}, line 1: not valid UTF-8 (byte 11")


def test_label_outside_schema_stops_before_any_component(tiny_imdb, tmp_path):
  for split in ("train", "test"):
    extra = tiny_imdb / split / "neutral"
    extra.mkdir()
    (extra / "1_5.txt").write_text("It was fine, I suppose.")
  config = fast_config(tiny_imdb, tmp_path / "out")
  _run_expecting(config, InputDataError, f"{tiny_imdb}/train/neutral: class folder not in the task's labels (neg, pos)")
  assert not (tmp_path / "out" / "pipelines").exists()


def test_schema_anomaly_stops_before_transform(tiny_imdb, tmp_path):
  """What only the curated schema knows (here: a required `title` feature the data lacks)
  is caught by ExampleValidator, and the AnomaliesGate stops the run before Transform."""
  schema = tmp_path / "schema.pbtxt"
  curated = (REPO_ROOT / "schemas" / "imdb-sentiment" / "schema.pbtxt").read_text()
  schema.write_text(curated + 'feature {\n  name: "title"\n  type: BYTES\n  presence {\n    min_fraction: 1.0\n  }\n}\n')
  config = fast_config(tiny_imdb, tmp_path / "out", schema_path=str(schema))
  message = _run_expecting(config, AnomaliesFoundError, "feature 'title': Column dropped")
  assert str(tiny_imdb) in message
  # The gate stopped the run: Transform and Trainer never wrote anything.
  assert not (tmp_path / "out" / "pipelines" / config.name / "Trainer").exists()
  assert not (tmp_path / "out" / "pipelines" / config.name / "Transform").exists()


def test_model_below_the_floor_is_not_pushed_and_the_summary_says_why(tiny_imdb, tmp_path):
  from pipeline.config import GateConfig
  config = fast_config(tiny_imdb, tmp_path / "out",
                       gate=GateConfig(min_accuracy=0.999, min_auc=0.0, max_accuracy_drop=1.0, max_auc_drop=1.0))
  summary = run.run(config)
  assert not summary.blessed and summary.pushed_to is None
  assert pushed_versions(config) == []
  assert len(summary.failures) == 1
  failure = summary.failures[0]
  assert failure.startswith("binary_accuracy value ") and failure.endswith("required >= 0.9990")
  assert f"{summary.metrics['binary_accuracy']:.4f}" in failure
  assert "why not" in summary.table() and "nothing pushed" in summary.table()
