"""Where data enters: turns DataConfig.path into a folder ExampleGen can read.

Accepts an aclImdb folder (or a folder holding one), the official aclImdb_v1.tar.gz,
its public URL (downloaded once into the cache), or a folder of CSV files. Checks the
layout up front so a bad path fails in seconds, naming the file or folder, before any
component runs; the components check every file again as they read it.
"""
import csv
import dataclasses
import hashlib
import os
import pathlib
import shutil
import tarfile
import tempfile
import urllib.request

from components.errors import InputDataError
from components.imdb_example_gen import layout
from pipeline.config import DataConfig

ACLIMDB = "aclimdb"
CSV = "csv"


@dataclasses.dataclass(frozen=True)
class ResolvedInput:
  format: str
  input_base: str
  class_names: tuple[str, ...]   # sorted; the label vocabulary found in the data
  description: str               # what the user passed, for error messages


def _extract(archive: pathlib.Path, cache_dir: pathlib.Path) -> pathlib.Path:
  """Extracts an aclImdb archive once into the cache; returns the aclImdb folder."""
  key = hashlib.sha256(f"{archive.resolve()}:{archive.stat().st_size}:{archive.stat().st_mtime_ns}".encode()).hexdigest()[:16]
  target = cache_dir / "datasets" / f"{archive.name.split('.')[0]}-{key}"
  if not (target / ".complete").exists():
    print(f"[data] extracting {archive} into {target} (once)", flush=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".extract-", dir=cache_dir / "datasets"))
    try:
      with tarfile.open(archive, "r:*") as tar:
        tar.extractall(staging, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
      shutil.rmtree(staging, ignore_errors=True)
      raise InputDataError(f"{archive}: not a readable tar archive ({e})") from e
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    (target / ".complete").touch()
  found = target / "aclImdb"
  return found if found.is_dir() else target


def _download(url: str, cache_dir: pathlib.Path) -> pathlib.Path:
  target = cache_dir / "downloads" / url.rstrip("/").rsplit("/", 1)[-1]
  if not target.exists():
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"[data] downloading {url}", flush=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
      with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
        shutil.copyfileobj(response, out)
    except OSError as e:
      partial.unlink(missing_ok=True)
      raise InputDataError(
          f"{url}: download failed ({e}). Without a network, download the archive "
          f"elsewhere and pass its local path (--data /path/to/aclImdb_v1.tar.gz)") from e
    partial.rename(target)
  return target


def _check_csv(folder: pathlib.Path, config: DataConfig) -> tuple[str, ...]:
  files = sorted(folder.glob("*.csv"))
  labels = set()
  for path in files:
    with open(path, newline="", encoding="utf-8") as f:
      reader = csv.DictReader(f)
      header = reader.fieldnames or []
      for column in (config.text_column, config.label_column):
        if column not in header:
          raise InputDataError(f"{path}: no column {column!r} (columns: {', '.join(header) or 'none'}); "
                               f"set --text-column / --label-column")
      try:
        labels.update(row[config.label_column] for row in reader)
      except UnicodeDecodeError as e:
        raise InputDataError(f"{path}: not valid UTF-8 (byte {e.start})") from e
  if not labels:
    raise InputDataError(f"{folder}: the CSV files hold no rows")
  return tuple(sorted(labels))


def resolve(config: DataConfig, cache_dir: str) -> ResolvedInput:
  """Finds, fetches or unpacks the input and checks its layout."""
  cache = pathlib.Path(cache_dir)
  (cache / "datasets").mkdir(parents=True, exist_ok=True)
  given = config.path
  path = _download(given, cache) if given.startswith(("http://", "https://")) else pathlib.Path(given).expanduser()
  if not path.exists():
    raise InputDataError(f"{given}: data path does not exist")
  if path.is_file():
    if not path.name.endswith((".tar.gz", ".tgz", ".tar")):
      raise InputDataError(f"{path}: expected an aclImdb folder, aclImdb_v1.tar.gz or a folder of CSV files")
    path = _extract(path, cache)
  elif (path / "aclImdb").is_dir():
    path = path / "aclImdb"
  path = path.resolve()

  fmt = config.format
  if fmt == "auto":
    fmt = CSV if any(path.glob("*.csv")) else ACLIMDB
  if fmt == CSV:
    return ResolvedInput(CSV, str(path), _check_csv(path, config), given)
  if fmt != ACLIMDB:
    raise InputDataError(f"unknown data format {fmt!r} (expected auto, aclimdb or csv)")
  classes, _ = layout.read_splits([str(path / "train"), str(path / "test")], config.ignored_folders)
  return ResolvedInput(ACLIMDB, str(path), tuple(classes), given)
