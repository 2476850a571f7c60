"""A Pusher whose filesystem push is atomic.

TFX's Pusher copies the model file by file into `<base>/<version>/`, `saved_model.pb`
last. A push killed half way leaves a numeric folder that TF Serving's file-system
source aspires to (it loads every child whose name parses as an int64) and fails to
load. Here the copy goes to a staging folder whose name parses as no version
(`.incomplete-<id>`), renamed to `<version>` once complete: on a local or POSIX file
system a server sees the whole version or none of it. While it copies, the push holds
an flock on `.incomplete-<id>.lock`; the next push removes staging folders whose lock
is free (their push died). Servers ignore them either way.

A model already served from the destination (the same SavedModel fingerprint, e.g. a
`--resume` of a finished run, where the Trainer's model is reused) is not copied again:
the push records the version that holds it.

With a ModelCard input (components/model_card_generator), the card goes into the staged
copy (`assets.extra/model_card/`, where TF Serving reads nothing), so it arrives with
the version it describes.
"""
import contextlib
import fcntl
import os
import time
import uuid
from typing import Any

from absl import logging
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils

from components.model_card_generator import artifact as card_artifact

STAGING_PREFIX = ".incomplete-"
LOCK_SUFFIX = ".lock"
MODEL_CARD_KEY = "model_card"
FINGERPRINT = "fingerprint.pb"   # TF's SavedModel fingerprint: hashes of the graph, signatures and variables


class Executor(pusher_executor.Executor):
  """TFX's Pusher for a filesystem destination, staged and renamed into place."""

  def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(model_push)
      return
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
    if destination.WhichOneof("destination") != "filesystem" or destination.filesystem.versioning not in (
        pusher_pb2.Versioning.AUTO, pusher_pb2.Versioning.UNIX_TIMESTAMP):
      raise NotImplementedError(f"only a filesystem destination with UNIX_TIMESTAMP versions: {destination}")
    model_path = self.GetModelPath(input_dict)
    cards = input_dict.get(MODEL_CARD_KEY) or []
    version, serving_path = push(model_path, destination.filesystem.base_directory,
                                 card_dir=cards[0].uri if cards else "")
    io_utils.copy_dir(model_path, model_push.uri)  # the archive copy TFX's Pusher keeps
    self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)
    logging.info("Model pushed to %s.", serving_path)


def push(model_path: str, base: str, card_dir: str = "") -> tuple[str, str]:
  """Copies the model (and the model card in card_dir) to a staging folder under base,
  then renames it to the first free version number from now (UNIX seconds). Returns
  (version, its path)."""
  fileio.makedirs(base)
  remove_abandoned_staging(base)
  served = version_serving(model_path, base)
  if served:
    logging.info("%s already holds this model (same SavedModel fingerprint); not pushed again", served)
    return os.path.basename(served), served
  staging = os.path.join(base, f"{STAGING_PREFIX}{uuid.uuid4().hex}")
  with _lock(staging + LOCK_SUFFIX):
    io_utils.copy_dir(model_path, staging)   # saved_model.pb last, as TFX's Pusher does
    if card_dir:
      io_utils.copy_dir(card_dir, os.path.join(staging, card_artifact.PUSHED_CARD_DIR))
    version = int(time.time())
    while fileio.exists(os.path.join(base, str(version))):
      version += 1                             # one version per push, even within a second
    serving_path = os.path.join(base, str(version))
    fileio.rename(staging, serving_path)       # refuses an existing target: never merged into one
  return str(version), serving_path


def version_serving(model_path: str, base: str) -> str:
  """The version folder under base holding the same SavedModel as model_path ('' if none)."""
  source = os.path.join(model_path, FINGERPRINT)
  if not fileio.exists(source):
    return ""
  with fileio.open(source, "rb") as f:
    fingerprint = f.read()
  for name in sorted((n.rstrip("/") for n in fileio.listdir(base)), reverse=True):
    candidate = os.path.join(base, name, FINGERPRINT)
    if name.isdigit() and fileio.exists(candidate):
      with fileio.open(candidate, "rb") as f:
        if f.read() == fingerprint:
          return os.path.join(base, name)
  return ""


def remove_abandoned_staging(base: str) -> list[str]:
  """Deletes staging folders (and lock files) whose push no longer holds the lock."""
  if not _is_local(base):
    return []
  removed = []
  names = {n.rstrip("/") for n in fileio.listdir(base) if n.startswith(STAGING_PREFIX)}
  for staging in sorted({os.path.join(base, n.removesuffix(LOCK_SUFFIX)) for n in names}):
    try:
      with _lock(staging + LOCK_SUFFIX, wait=False):
        if fileio.exists(staging):
          fileio.rmtree(staging)
    except BlockingIOError:
      continue  # a push is writing it now
    removed.append(staging)
    logging.warning("removed %s, left by a push that did not finish", staging)
  return removed


@contextlib.contextmanager
def _lock(path: str, wait: bool = True):
  """An exclusive flock on path for the block; the file is deleted on the way out. On a
  remote file system (gs://, s3://) there are no locks: the block just runs."""
  if not _is_local(path):
    yield
    return
  with open(path, "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    try:
      yield
    finally:
      with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _is_local(path: str) -> bool:
  return "://" not in path
