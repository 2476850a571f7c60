"""The pipeline under BeamDagRunner (`make run-beam`), every Beam step on the DirectRunner's
2 worker processes: the project's code is pickled to them and run there. The run is
conftest's blessed_sample, which the scoring and drift tests start from."""
import pytest

from pipeline import run
from tests.conftest import pushed_versions

pytestmark = pytest.mark.slow


def test_beam_dag_runner_multiprocessing(blessed_sample):
  config, summary, output = blessed_sample
  assert f"runner {run.BEAM}," in output, output
  assert summary["metrics"]["example_count"] == 1000   # the sample's test split
  assert summary["blessed"] and len(pushed_versions(config)) == 1
