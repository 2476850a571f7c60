"""The image's worker pool mounts the folders a default run reads and writes: the host's python
builds its command without importing the pipeline's config, so the two must not drift."""
from pipeline import paths
from pipeline.config import PipelineConfig
from pipeline.runners import worker_pool


def test_the_pool_mounts_a_default_runs_output_and_cache_folders():
  config = PipelineConfig()
  assert worker_pool.DEFAULT_DIRS == (config.output_dir, config.cache_dir)


def test_an_empty_cache_variable_means_the_default_cache(monkeypatch, tmp_path):
  # scripts/env.sh passes TFX_TEXT_CACHE into the userland even when it is unset outside.
  monkeypatch.setenv(paths.CACHE_ENV, "")
  monkeypatch.setenv("HOME", str(tmp_path))
  assert paths.cache_root() == tmp_path / ".cache" / "tfx-text-pipeline"
  monkeypatch.setenv(paths.CACHE_ENV, "/srv/cache")
  assert str(paths.cache_root()) == "/srv/cache"
