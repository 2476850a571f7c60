"""--beam-arg: the options reach every Beam-powered component, replacing the defaults."""
from pipeline import cli
from pipeline import run
from pipeline.config import IN_PROCESS_BEAM_ARGS, MULTI_PROCESS_BEAM_ARGS, config_from_env
from tests.conftest import make_aclimdb

SPARK = ["--runner=PortableRunner", "--job_endpoint=localhost:8099", "--environment_type=LOOPBACK"]


def _defined(argv, tmp_path, beam_pipeline_args=None):
  data = make_aclimdb(tmp_path / "aclImdb", {"train": 4, "test": 2})
  config, _ = cli.parse_config(["run", "--data", str(data), "--output-dir", str(tmp_path / "out"), *argv])
  return run.build(config, beam_pipeline_args)


def test_beam_args_replace_the_runners_defaults(tmp_path):
  pipeline = _defined([f"--beam-arg={option}" for option in SPARK], tmp_path, list(MULTI_PROCESS_BEAM_ARGS))
  assert pipeline.beam_pipeline_args == SPARK


def test_without_beam_args_each_orchestrator_keeps_its_default(tmp_path):
  assert _defined([], tmp_path).beam_pipeline_args == list(IN_PROCESS_BEAM_ARGS)
  assert _defined([], tmp_path / "beam", list(MULTI_PROCESS_BEAM_ARGS)).beam_pipeline_args == list(MULTI_PROCESS_BEAM_ARGS)


def test_the_tfx_cli_runners_read_them_from_the_environment():
  assert config_from_env({"TFX_TEXT_BEAM_ARGS": " ".join(SPARK)}).beam_args == tuple(SPARK)
