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
* Nothing in a base path can stop or block the poller. A version is a folder whose name
  is TF Serving's: an int64 in ASCII digits (leading zeros allowed, as TF Serving's
  parser allows them; the shortest spelling wins if two name the same number). Names
  starting with "." are the Pusher's staging folders and locks, and are ignored. Any
  other entry (`-1`, `1e3`, `²`, a number past int64, a file, a broken link) is skipped
  and reported once in the log and in `skipped()`. A version folder holding anything
  but regular files (a FIFO, a socket, a symlink loop) is reported as failed, never
  opened. Symlinks are followed as TF Serving follows them (a version may be a link,
  e.g. for blue/green switches), but only a folder whose `saved_model.pb` is a regular
  file is walked, and at most MAX_FILES_PER_VERSION files of it.
"""
import ctypes
import dataclasses
import gc
import logging
import os
import re
import stat
import threading
import time
from typing import Optional

from tensorflow_serving.config import model_server_config_pb2

from serving.local_server import errors, metrics
from serving.local_server.servable import Servable

log = logging.getLogger("local_server")

AVAILABLE, LOADING, END = "AVAILABLE", "LOADING", "END"
SAVED_MODEL_FILE = "saved_model.pb"
MAX_VERSION = 2**63 - 1           # ServableId.version is an int64
MAX_FILES_PER_VERSION = 100_000   # a version folder with more is refused, not walked on
_VERSION_NAME = re.compile(r"[0-9]+")   # ASCII only: str.isdigit() takes '²' and '١٢'
MAX_SHOWN_NAME = 100              # longest name a message quotes whole


@dataclasses.dataclass(frozen=True)
class VersionState:
  version: int
  state: str                 # AVAILABLE, LOADING or END (failed or unloaded)
  error: str = ""


class ModelStore:
  """Loads, serves and retires versions of the models in a ModelServerConfig."""

  def __init__(self, config: model_server_config_pb2.ModelServerConfig,
               poll_seconds: float = 1.0, settle_seconds: float = 1.0,
               counters: Optional[metrics.Metrics] = None):
    self._configs = {m.name: m for m in config.model_config_list.config}
    self._metrics = counters or metrics.Metrics()
    self._poll_seconds = poll_seconds
    self._settle_seconds = settle_seconds
    self._served: dict[str, dict[int, Servable]] = {name: {} for name in self._configs}
    self._states: dict[str, dict[int, VersionState]] = {name: {} for name in self._configs}
    self._seen: dict[str, tuple] = {}            # version dir -> fingerprint on the last poll
    self._failed: dict[str, tuple] = {}          # version dir -> fingerprint that failed to load
    self._paths: dict[str, dict[int, str]] = {}  # model -> version -> its folder
    self._skipped: dict[str, dict[str, str]] = {}  # model -> base path entry -> why not a version
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._thread: Optional[threading.Thread] = None

  # --- requests -------------------------------------------------------------
  def get(self, name: str, version: Optional[int] = None, label: str = "") -> Servable:
    """The servable a request names: the latest loaded version unless pinned."""
    if name not in self._configs:
      raise errors.not_found(f"Servable not found for request: Latest({shown(name)}): no model of that "
                             f"name is configured (served models: {', '.join(self.model_names())})")
    served = self._served[name]  # one read of an immutable snapshot
    if label:
      labels = self._configs[name].version_labels
      if label not in labels:
        raise errors.not_found(f"Unrecognized servable version label: {shown(label)} (model {name})")
      version = labels[label]
    if version is None:
      if not served:
        raise errors.not_found(f"Servable not found for request: Latest({name}): no version is loaded yet"
                               f"{self.why_nothing(name)}")
      return served[max(served)]
    if version not in served:
      raise errors.not_found(f"Servable not found for request: Specific({name}, {version}); "
                             f"loaded versions: {sorted(served)}")
    return served[version]

  def states(self, name: str, version: Optional[int] = None) -> list[VersionState]:
    if name not in self._configs:
      raise errors.not_found(f"Could not find any versions of model {shown(name)} "
                             f"(served models: {', '.join(self.model_names())})")
    if version is not None:
      if version not in self._states[name]:
        raise errors.not_found(f"Could not find version {version} of model {name}")
      return [self._states[name][version]]
    found = self.states_or_none(name)
    if not found:
      raise errors.not_found(f"Could not find any versions of model {name}{self.why_nothing(name)}")
    return found

  def model_names(self) -> list[str]:
    return sorted(self._configs)

  def states_or_none(self, name: str) -> list[VersionState]:
    """Every version's state, newest first; empty when there is none (no error)."""
    return [self._states[name][v] for v in sorted(self._states[name], reverse=True)]

  def base_path(self, name: str) -> str:
    return self._configs[name].base_path

  def skipped(self, name: str) -> dict[str, str]:
    """Entries of the model's base path that are not versions, and why."""
    return dict(self._skipped.get(name, {}))

  def why_nothing(self, name: str) -> str:
    """What a client is told when a model has no version: the skipped entries, or that
    the base path holds none."""
    skipped = self._skipped.get(name, {})
    if skipped:
      listed = "; ".join(f"{shown(e)!r}: {why}" for e, why in sorted(skipped.items())[:5])
      return f" (entries of the base path that are not versions: {listed})"
    if self._states[name]:
      return ""
    if not os.path.isdir(self._configs[name].base_path):
      return " (the base path does not exist yet: nothing was pushed there)"
    return " (the base path holds no version folder)"

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
      self._paths[name], skipped = scan_base_path(config.base_path)
      self._report_skipped(name, skipped)
      on_disk = set(self._paths[name])
      ready = set(self._ready_versions(name))
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
      self._forget_deleted(name, on_disk)

  def _report_skipped(self, name: str, skipped: dict[str, str]) -> None:
    """Logs each entry that is not a version once (again only if its reason changes)."""
    before = self._skipped.get(name, {})
    for entry, why in sorted(skipped.items()):
      if before.get(entry) != why:
        log.warning("model %s: %r in the base path is not a version (%s); skipped", name, shown(entry), why)
    self._skipped[name] = skipped
    self._metrics.set(metrics.SKIPPED_ENTRIES, len(skipped), model=name)

  def _forget_deleted(self, name: str, on_disk: set) -> None:
    """A version gone from disk and not served is no longer reported (nor remembered)."""
    gone = [v for v in self._states[name] if v not in on_disk and v not in self._served[name]]
    if gone:
      with self._lock:
        self._states[name] = {v: st for v, st in self._states[name].items() if v not in gone}
    known = {path for paths in self._paths.values() for path in paths.values()}
    for path in [p for p in self._seen if p not in known]:
      self._seen.pop(path, None)
      self._failed.pop(path, None)

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

  def _ready_versions(self, name: str) -> list:
    """Versions whose folders are complete: present, stable since the last poll, settled,
    and made of regular files only (anything else is reported as failed, not opened)."""
    ready = []
    for version, path in self._paths[name].items():
      fingerprint, newest, problem = _fingerprint(path)
      previous, self._seen[path] = self._seen.get(path), fingerprint
      if not fingerprint and not problem:
        continue  # no saved_model.pb yet: a push still copying
      changed = previous is not None and fingerprint != previous
      if changed or time.time() - newest < self._settle_seconds:
        continue
      if self._failed.get(path) == fingerprint:
        continue  # already failed as it is now; retried when it changes
      if problem:
        self._refuse(name, version, path, problem)
        continue
      ready.append(version)
    return ready

  def _refuse(self, name: str, version: int, path: str, reason: str) -> None:
    """Marks a version failed with its reason (shown in status) and logs it once."""
    self._failed[path] = self._seen.get(path)
    self._states[name] = {**self._states[name],
                          version: VersionState(version, END, f"version {version} failed to load: {reason}")}
    log.error("model %s version %d failed to load from %s: %s", name, version, path, reason)

  def _load(self, name: str, config, version: int) -> bool:
    """Loads and publishes one version; False (and its state END with the reason) if it fails."""
    path = self._paths[name][version]
    self._states[name] = {**self._states[name], version: VersionState(version, LOADING)}
    start = time.time()
    try:
      servable = Servable(name, version, path)
      servable.warm_up()
    except Exception as e:  # pylint: disable=broad-except  # a bad version must not stop serving
      self._refuse(name, version, path, _public_reason(e, config.base_path))
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


def shown(name: str) -> str:
  """A client-supplied or on-disk name as messages quote it: cut past MAX_SHOWN_NAME."""
  return name if len(name) <= MAX_SHOWN_NAME else f"{name[:MAX_SHOWN_NAME]}... ({len(name)} characters)"


def scan_base_path(base_path: str) -> tuple[dict[int, str], dict[str, str]]:
  """The versions in a base path (version -> folder) and the entries that are not
  versions (name -> why). Never raises: a base path that cannot be listed is reported."""
  try:
    entries = sorted(os.scandir(base_path), key=lambda e: (len(e.name), e.name))
  except FileNotFoundError:
    return {}, {}
  except OSError as e:
    return {}, {".": f"the base path cannot be listed: {e.strerror or e}"}
  versions, skipped = {}, {}
  for entry in entries:
    if entry.name.startswith("."):
      continue  # the Pusher's staging folders and lock files
    why = _not_a_version(entry)
    if not why and int(entry.name) in versions:
      why = f"names version {int(entry.name)}, as {os.path.basename(versions[int(entry.name)])!r} does"
    if why:
      skipped[entry.name] = why
    else:
      versions[int(entry.name)] = entry.path
  return versions, skipped


def _not_a_version(entry: os.DirEntry) -> str:
  if not _VERSION_NAME.fullmatch(entry.name):
    return "a version is named by ASCII digits only"
  if int(entry.name) > MAX_VERSION:
    return "the number is past the largest int64 version"
  try:
    if not entry.is_dir():   # follows a symlink, as TF Serving does
      return "not a folder"
  except OSError as e:
    return f"cannot be read: {e.strerror or e}"
  return ""


def _fingerprint(path: str) -> tuple[tuple, float, str]:
  """(relative path, size, mtime) of every file under a version folder, the newest mtime,
  and what makes it unloadable ("" if nothing). Empty while saved_model.pb is missing (a
  push still copying): only then is the folder walked. Never opens a file, never raises."""
  try:
    pb = os.stat(os.path.join(path, SAVED_MODEL_FILE))
  except FileNotFoundError:
    return (), 0.0, ""
  except OSError as e:
    return (), 0.0, f"{SAVED_MODEL_FILE} cannot be read: {e.strerror or e}"
  if not stat.S_ISREG(pb.st_mode):
    return (), 0.0, f"{SAVED_MODEL_FILE} is not a regular file"
  entries, newest, problems = [], 0.0, []
  for root, _, files in os.walk(path, onerror=lambda e: problems.append(f"cannot list a folder: {e.strerror}")):
    for f in files:
      if len(entries) >= MAX_FILES_PER_VERSION:
        return tuple(entries), newest, f"more than {MAX_FILES_PER_VERSION} files"
      relative = os.path.relpath(os.path.join(root, f), path)
      try:
        st = os.stat(os.path.join(root, f))
      except FileNotFoundError:
        continue  # removed while walking: the next poll sees the change
      except OSError as e:
        problems.append(f"{relative} cannot be read: {e.strerror or e}")
        continue
      if not stat.S_ISREG(st.st_mode):
        problems.append(f"{relative} is not a regular file")
        continue
      entries.append((relative, st.st_size, st.st_mtime_ns))
      newest = max(newest, st.st_mtime)
  try:
    newest = max(newest, os.stat(path).st_mtime)
  except OSError:
    pass
  return tuple(sorted(entries)), newest, "; ".join(problems[:3])


def single_model_config(name: str, base_path: str, num_versions: int = 2) -> model_server_config_pb2.ModelServerConfig:
  """The config `--model_name/--model_base_path` stand for (TF Serving's flags)."""
  config = model_server_config_pb2.ModelServerConfig()
  model = config.model_config_list.config.add(name=name, base_path=os.path.abspath(base_path),
                                              model_platform="tensorflow")
  model.model_version_policy.latest.num_versions = num_versions
  return config
