"""StagedPusher's executor on a real SavedModel: a push is seen whole or not at all.

The interrupted push is a real one: the source model holds a named pipe, so the copy
blocks inside the staging folder until the test kills the process with SIGKILL.
"""
import os
import pathlib
import signal
import subprocess
import sys

import pytest
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.staged_pusher import executor
from pipeline.config import REPO_ROOT
from serving.local_server import model_store
from tests.serving_helpers import MODEL, save_toy_model, wait_until


def _push(model_uri: str, base: str, out_uri: str, blessed: int = 1) -> standard_artifacts.PushedModel:
  """Runs the executor's Do() as the Pusher would, on a model artifact at model_uri."""
  model = standard_artifacts.Model()
  model.uri = model_uri
  blessing = standard_artifacts.ModelBlessing()
  blessing.uri = out_uri + "-blessing"
  blessing.set_int_custom_property("blessed", blessed)
  pushed = standard_artifacts.PushedModel()
  pushed.uri = out_uri
  destination = pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=base))
  executor.Executor().Do(
      {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_BLESSING_KEY: [blessing]},
      {standard_component_specs.PUSHED_MODEL_KEY: [pushed]},
      {standard_component_specs.PUSH_DESTINATION_KEY: proto_utils.proto_to_json(destination)})
  return pushed


def _model_artifact(root: pathlib.Path, weight: float = 1.0) -> pathlib.Path:
  """A Model artifact's folder as the Trainer writes it: the SavedModel in Format-Serving/."""
  save_toy_model(root / "Format-Serving", weight)
  return root


def _versions_a_server_would_load(base: pathlib.Path) -> list:
  """Children TF Serving's file-system source aspires to: names that parse as an int64."""
  loadable = []
  for child in base.iterdir():
    try:
      loadable.append(int(child.name))
    except ValueError:
      pass
  return loadable


def _store(base: pathlib.Path) -> model_store.ModelStore:
  return model_store.ModelStore(model_store.single_model_config(MODEL, str(base)), settle_seconds=0)


def test_push_renames_a_complete_version_into_place(tmp_path):
  model = _model_artifact(tmp_path / "model")
  base = tmp_path / "serving"
  pushed = _push(str(model), str(base), str(tmp_path / "pushed"))
  version = pushed.get_string_custom_property("pushed_version")
  assert pushed.get_int_custom_property("pushed") == 1
  assert sorted(p.name for p in base.iterdir()) == [version]  # no staging folder or lock left
  assert pushed.get_string_custom_property("pushed_destination") == str(base / version)
  assert (base / version / "saved_model.pb").exists() and (tmp_path / "pushed" / "saved_model.pb").exists()
  store = _store(base)
  store.poll_once()
  assert store.get(MODEL).version == int(version)


def test_two_pushes_in_one_second_get_two_versions(tmp_path):
  base = tmp_path / "serving"
  first = _push(str(_model_artifact(tmp_path / "model-1", 1.0)), str(base),
                str(tmp_path / "pushed-1")).get_string_custom_property("pushed_version")
  second = _push(str(_model_artifact(tmp_path / "model-2", 2.0)), str(base),
                 str(tmp_path / "pushed-2")).get_string_custom_property("pushed_version")
  assert int(second) > int(first)
  assert sorted(_versions_a_server_would_load(base)) == [int(first), int(second)]


def test_a_model_already_served_is_not_pushed_again(tmp_path):
  """A --resume of a finished run reuses the Trainer's model: same SavedModel, no new version."""
  model, base = _model_artifact(tmp_path / "model"), tmp_path / "serving"
  first = _push(str(model), str(base), str(tmp_path / "pushed-1"))
  again = _push(str(model), str(base), str(tmp_path / "pushed-2"))
  assert again.get_int_custom_property("pushed") == 1
  assert again.get_string_custom_property("pushed_version") == first.get_string_custom_property("pushed_version")
  assert len(_versions_a_server_would_load(base)) == 1


def test_an_unblessed_model_is_not_pushed(tmp_path):
  base = tmp_path / "serving"
  pushed = _push(str(_model_artifact(tmp_path / "model")), str(base), str(tmp_path / "pushed"), blessed=0)
  assert pushed.get_int_custom_property("pushed") == 0
  assert not base.exists() or not list(base.iterdir())


def test_a_killed_push_leaves_nothing_loadable_and_the_next_push_cleans_up(tmp_path):
  model = _model_artifact(tmp_path / "model")
  os.mkfifo(model / "Format-Serving" / "variables" / "zz_blocks_the_copy")  # open() waits for a writer
  base = tmp_path / "serving"
  code = (f"from tests.test_staged_pusher import _push; "
          f"_push({str(model)!r}, {str(base)!r}, {str(tmp_path / 'pushed')!r})")
  process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT)
  try:
    staging = wait_until(lambda: [p for p in base.iterdir() if p.is_dir()] if base.exists() else None,
                         timeout=120, what="the push to start copying")
    wait_until(lambda: any(f.is_file() for f in staging[0].rglob("*")), timeout=60,
               what="the first files in the staging folder")
    assert process.poll() is None, "the push should still be blocked on the named pipe"
  finally:
    process.send_signal(signal.SIGKILL)
    process.wait()

  left = sorted(p.name for p in base.iterdir())
  assert left and all(name.startswith(executor.STAGING_PREFIX) for name in left), left
  assert _versions_a_server_would_load(base) == []
  store = _store(base)
  store.poll_once()
  with pytest.raises(Exception, match="Could not find any versions"):
    store.states(MODEL)

  (model / "Format-Serving" / "variables" / "zz_blocks_the_copy").unlink()
  version = _push(str(model), str(base), str(tmp_path / "pushed-2")).get_string_custom_property("pushed_version")
  assert sorted(p.name for p in base.iterdir()) == [version]  # the abandoned staging folder is gone
  store.poll_once()
  assert store.get(MODEL).version == int(version)


def test_cleanup_spares_a_push_in_progress(tmp_path):
  base = tmp_path / "serving"
  staging = base / f"{executor.STAGING_PREFIX}inprogress"
  staging.mkdir(parents=True)
  with executor._lock(str(staging) + executor.LOCK_SUFFIX):  # pylint: disable=protected-access
    assert executor.remove_abandoned_staging(str(base)) == []
    assert staging.exists()
  assert executor.remove_abandoned_staging(str(base)) == [str(staging)]
  assert not staging.exists()
