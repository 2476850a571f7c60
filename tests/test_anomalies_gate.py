"""AnomaliesGate's executor: Do() on committed ExampleValidator output (testdata/)."""
import pytest
from tfx.types import artifact_utils, standard_artifacts

from components.anomalies_gate import executor
from components.errors import AnomaliesFoundError
from pipeline.config import REPO_ROOT

TESTDATA = REPO_ROOT / "components" / "anomalies_gate" / "testdata"


def _do(name: str, description: str = "") -> None:
  anomalies = standard_artifacts.ExampleAnomalies()
  anomalies.uri = str(TESTDATA / name)
  anomalies.split_names = artifact_utils.encode_split_names(["train", "eval"])
  executor.Executor().Do({executor.ANOMALIES_KEY: [anomalies]}, {},
                         {executor.DATA_DESCRIPTION_KEY: description})


def test_clean_splits_pass():
  _do("clean")


def test_an_anomaly_stops_the_run_naming_split_feature_and_value():
  with pytest.raises(AnomaliesFoundError) as error:
    _do("anomalous", "data/my-reviews")
  message = str(error.value)
  assert "1 anomaly in data/my-reviews" in message
  assert "split 'eval', feature 'label'" in message and "PERSON" in message
  assert "split 'train'" not in message
