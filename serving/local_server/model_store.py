"""Which versions of which models are served, and how new versions come in.

The same rules as TF Serving's file-system source: each model has a base path whose
numeric sub-folders are versions; a version policy (latest N, all, or specific)
chooses which are loaded; the base paths are polled. Two guarantees on top:

* A version is loaded only once its folder is complete: `saved_model.pb` is there (TFX's
  Pusher copies it last, as TF Serving expects), nothing in it changed since the last
  poll nor in the last `settle_seconds`, and it loads and warms up. A half-copied push
  is never served.
* The set of served versions is replaced as a whole, after the new one is ready, so a
  request sees either the old set or the new one; in-flight requests keep the version
  they started with.
"""
import ctypes
import dataclasses
import gc
import logging
import os
import re
import threading
import time
from typing import Optional

from tensorflow_serving.config import model_server_config_pb2

from serving.local_server import errors
from serving.local_server.servable import Servable

log = logging.getLogger("local_server")

AVAILABLE, LOADING, END = "AVAILABLE", "LOADING", "END"


@dataclasses.dataclass(frozen=True)
class VersionState:
  version: int
  state: str                 # AVAILABLE, LOADING or END (failed or unloaded)
  error: str = ""


class ModelStore:
  """Loads, serves and retires versions of the models in a ModelServerConfig."""

  def __init__(self, config: model_server_config_pb2.ModelServerConfig,
               poll_seconds: float = 1.0, settle_seconds: float = 1.0):
    self._configs = {m.name: m for m in config.model_config_list.config}
    self._poll_seconds = poll_seconds
    self._settle_seconds = settle_seconds
    self._served: dict[str, dict[int, Servable]] = {name: {} for name in self._configs}
    self._states: dict[str, dict[int, VersionState]] = {name: {} for name in self._configs}
    self._seen: dict[str, tuple] = {}            # version dir -> fingerprint on the last poll
    self._failed: dict[str, tuple] = {}          # version dir -> fingerprint that failed to load
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._thread: Optional[threading.Thread] = None

  # --- requests -------------------------------------------------------------
  def get(self, name: str, version: Optional[int] = None, label: str = "") -> Servable:
    """The servable a request names: the latest loaded version unless pinned."""
    if name not in self._configs:
      raise errors.not_found(f"Servable not found for request: Latest({name}): no model named '{name}' is configured")
    served = self._served[name]  # one read of an immutable snapshot
    if label:
      labels = self._configs[name].version_labels
      if label not in labels:
        raise errors.not_found(f"Unrecognized servable version label: {label} (model {name})")
      version = labels[label]
    if version is None:
      if not served:
        raise errors.not_found(f"Servable not found for request: Latest({name}): no version is loaded yet")
      return served[max(served)]
    if version not in served:
      raise errors.not_found(f"Servable not found for request: Specific({name}, {version}); "
                             f"loaded versions: {sorted(served)}")
    return served[version]

  def states(self, name: str, version: Optional[int] = None) -> list[VersionState]:
    if name not in self._configs:
      raise errors.not_found(f"Could not find any versions of model {name}")
    states = self._states[name]
    if version is not None:
      if version not in states:
        raise errors.not_found(f"Could not find version {version} of model {name}")
      return [states[version]]
    if not states:
      raise errors.not_found(f"Could not find any versions of model {name}")
    return [states[v] for v in sorted(states, reverse=True)]

  def model_names(self) -> list[str]:
    return sorted(self._configs)

  # --- polling --------------------------------------------------------------
  def start(self) -> None:
    self.poll_once()
    self._thread = threading.Thread(target=self._poll_loop, name="model-poller", daemon=True)
    self._thread.start()

  def stop(self) -> None:
    self._stop.set()
    if self._thread:
      self._thread.join(timeout=10)

  def _poll_loop(self) -> None:
    while not self._stop.wait(self._poll_seconds):
      try:
        self.poll_once()
      except Exception:  # pylint: disable=broad-except  # keep serving what is loaded
        log.exception("polling the model base paths failed")

  def poll_once(self) -> None:
    for name, config in self._configs.items():
      on_disk = self._on_disk(config)
      ready = set(self._ready_versions(config))
      # Candidates: what is served and still on disk, plus complete versions not served.
      # Versions are loaded before anything retires, and the wanted set is recomputed
      # without each one that fails, so a broken push never disturbs what is served.
      candidates = (set(self._served[name]) & on_disk) | ready
      while True:
        wanted = set(self._select(config, candidates))
        to_load = sorted((v for v in wanted if v not in self._served[name]), reverse=True)
        if not to_load:
          break
        for version in to_load:
          if not self._load(name, config, version):
            candidates.discard(version)
      retired = set(self._served[name]) - wanted
      if retired and set(self._served[name]) & wanted:  # never unload the last one
        with self._lock:
          self._served[name] = {v: s for v, s in self._served[name].items() if v not in retired}
          self._states[name] = {**self._states[name], **{v: VersionState(v, END) for v in retired}}
        log.info("model %s: unloaded versions %s", name, sorted(retired))
        release_memory()
      self._forget_deleted(name, config, on_disk)

  def _forget_deleted(self, name: str, config, on_disk: set) -> None:
    """A version gone from disk and not served is no longer reported (nor remembered)."""
    gone = [v for v in self._states[name] if v not in on_disk and v not in self._served[name]]
    if gone:
      with self._lock:
        self._states[name] = {v: st for v, st in self._states[name].items() if v not in gone}
      for v in gone:
        path = os.path.join(config.base_path, str(v))
        self._seen.pop(path, None)
        self._failed.pop(path, None)

  @staticmethod
  def _on_disk(config) -> set:
    try:
      return {int(d) for d in os.listdir(config.base_path) if d.isdigit()}
    except FileNotFoundError:
      return set()

  @staticmethod
  def _select(config, versions: set) -> list:
    policy = config.model_version_policy
    which = policy.WhichOneof("policy_choice")
    if which == "all":
      return sorted(versions)
    if which == "specific":
      return sorted(set(policy.specific.versions) & versions)
    count = policy.latest.num_versions if which == "latest" and policy.latest.num_versions else 1
    return sorted(versions)[-count:]

  def _ready_versions(self, config) -> list:
    """Versions whose folders are complete: present, stable since the last poll, settled."""
    ready = []
    for version in self._on_disk(config):
      path = os.path.join(config.base_path, str(version))
      fingerprint, newest = _fingerprint(path)
      previous, self._seen[path] = self._seen.get(path), fingerprint
      if not any(f[0] == "saved_model.pb" for f in fingerprint):
        continue
      changed = previous is not None and fingerprint != previous
      if changed or time.time() - newest < self._settle_seconds:
        continue
      if self._failed.get(path) == fingerprint:
        continue  # already failed as it is now; retried when it changes
      ready.append(version)
    return ready

  def _load(self, name: str, config, version: int) -> bool:
    """Loads and publishes one version; False (and its state END with the reason) if it fails."""
    path = os.path.join(config.base_path, str(version))
    self._states[name] = {**self._states[name], version: VersionState(version, LOADING)}
    start = time.time()
    try:
      servable = Servable(name, version, path)
      servable.warm_up()
    except Exception as e:  # pylint: disable=broad-except  # a bad version must not stop serving
      self._failed[path] = self._seen.get(path)
      reason = _public_reason(e, config.base_path)
      self._states[name] = {**self._states[name],
                            version: VersionState(version, END, f"version {version} failed to load: {reason}")}
      log.error("model %s version %d failed to load from %s: %s", name, version, path, e)
      release_memory()
      return False
    with self._lock:  # publish: one assignment swaps the snapshot requests read
      self._served[name] = {**self._served[name], version: servable}
      self._states[name] = {**self._states[name], version: VersionState(version, AVAILABLE)}
    log.info("model %s: version %d available (%s, loaded in %.1f s)", name, version, path, time.time() - start)
    return True


def _public_reason(error: Exception, base_path: str) -> str:
  """The load error as a client may see it: its type and first line, host paths removed."""
  text = str(error).strip().splitlines()[0] if str(error).strip() else ""
  text = re.sub(re.escape(base_path.rstrip("/")) + r"/?", "", text)
  text = re.sub(r"(?<![\w.])/[^\s'\"]+", "<path>", text)   # any other absolute path
  return f"{type(error).__name__}: {text[:300]}"


def release_memory() -> None:
  """Frees what an unloaded or failed version held: Python's cycles (TF function graphs
  hold them), then glibc's free heap pages back to the OS, which it keeps otherwise."""
  gc.collect()
  try:
    ctypes.CDLL("libc.so.6").malloc_trim(0)
  except (OSError, AttributeError):  # not glibc
    pass


def _fingerprint(path: str) -> tuple[tuple, float]:
  """(relative path, size, mtime) of every file under path, and the newest mtime."""
  entries, newest = [], 0.0
  for root, _, files in os.walk(path):
    for f in files:
      full = os.path.join(root, f)
      try:
        st = os.stat(full)
      except FileNotFoundError:
        continue
      entries.append((os.path.relpath(full, path), st.st_size, st.st_mtime_ns))
      newest = max(newest, st.st_mtime)
  try:
    newest = max(newest, os.stat(path).st_mtime)
  except FileNotFoundError:
    pass
  return tuple(sorted(entries)), newest


def single_model_config(name: str, base_path: str, num_versions: int = 2) -> model_server_config_pb2.ModelServerConfig:
  """The config `--model_name/--model_base_path` stand for (TF Serving's flags)."""
  config = model_server_config_pb2.ModelServerConfig()
  model = config.model_config_list.config.add(name=name, base_path=os.path.abspath(base_path),
                                              model_platform="tensorflow")
  model.model_version_policy.latest.num_versions = num_versions
  return config
