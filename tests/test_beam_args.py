"""--beam-arg: the options reach every Beam-powered component, replacing the defaults; every
set names where Beam's workers find TFX, so TFX builds no sdist of itself per step."""
import glob
import os

from tfx.utils import dependency_utils

from pipeline import cli
from pipeline import run
from pipeline.config import (IN_PROCESS_BEAM_ARGS, MULTI_PROCESS_BEAM_ARGS, PIPELINE_IMAGE, config_from_env,
                             with_workers_image)
from pipeline.runners.portable import portable_beam_args
from tests.conftest import make_aclimdb

SPARK = ["--runner=PortableRunner", "--job_endpoint=localhost:8099", "--environment_type=LOOPBACK"]


def _defined(argv, tmp_path, beam_pipeline_args=None):
  data = make_aclimdb(tmp_path / "aclImdb", {"train": 4, "test": 2})
  config, _ = cli.parse_config(["run", "--data", str(data), "--output-dir", str(tmp_path / "out"), *argv])
  return run.build(config, beam_pipeline_args)


def test_beam_args_replace_the_runners_defaults(tmp_path):
  pipeline = _defined([f"--beam-arg={option}" for option in SPARK], tmp_path, list(MULTI_PROCESS_BEAM_ARGS))
  assert pipeline.beam_pipeline_args == SPARK + [f"--sdk_container_image={PIPELINE_IMAGE}"]


def test_without_beam_args_each_orchestrator_keeps_its_default(tmp_path):
  assert _defined([], tmp_path).beam_pipeline_args[:-1] == list(IN_PROCESS_BEAM_ARGS)
  assert _defined([], tmp_path / "beam", list(MULTI_PROCESS_BEAM_ARGS)).beam_pipeline_args[:-1] == list(MULTI_PROCESS_BEAM_ARGS)


def test_an_image_the_user_names_is_kept():
  theirs = SPARK + ["--sdk_container_image", "registry.example/theirs:1"]
  assert with_workers_image(theirs) == theirs


def test_tfx_builds_no_package_of_itself_for_any_runner(tmp_path, monkeypatch):
  """TFX's own check (run by every Beam-powered executor) finds the dependencies named."""
  monkeypatch.setenv("TMPDIR", str(tmp_path))
  monkeypatch.setattr("tempfile.tempdir", None)
  config, _ = cli.parse_config(["run", "--output-dir", str(tmp_path / "out")])
  for args in (config.beam_pipeline_args(), config.beam_pipeline_args(MULTI_PROCESS_BEAM_ARGS),
               config.replace(beam_args=tuple(portable_beam_args(8099, "localhost:50000"))).beam_pipeline_args()):
    assert dependency_utils.make_beam_dependency_flags(args) == args
  assert not glob.glob(os.path.join(tmp_path, "tmp*")), "TFX built its ephemeral sdist"


def test_the_tfx_cli_runners_read_them_from_the_environment():
  assert config_from_env({"TFX_TEXT_BEAM_ARGS": " ".join(SPARK)}).beam_args == tuple(SPARK)
