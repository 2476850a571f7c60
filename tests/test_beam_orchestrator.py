"""The same pipeline under BeamDagRunner, components on 2 Beam worker processes."""
import pytest

from pipeline import run
from tests.conftest import fast_config, make_aclimdb, pushed_versions

pytestmark = pytest.mark.slow


def test_beam_dag_runner_multiprocessing(tmp_path):
  data = make_aclimdb(tmp_path / "aclImdb", {"train": 40, "test": 20})
  config = fast_config(data, tmp_path / "out")
  summary = run.run(config, run.BEAM)
  assert summary.metrics["example_count"] == 40
  assert summary.blessed and len(pushed_versions(config)) == 1
