"""Where data enters: finds the data set's layout and decides its task, before any component runs.

Accepted, as a folder, a file or a .tar.gz of either (a URL is downloaded once):
  class folders  <root>/<split>/<class>/*.txt (aclImdb) or <root>/<class>/*.txt
  CSV            train.csv [dev.csv] [test.csv], or any *.csv (or one .csv file)
  JSON Lines     the same with .jsonl / .json
Splits the data already has are honoured (train; dev, eval, valid or validation; test);
the missing ones are carved from train by hash (TextExampleGen). Every row is read and
checked here, through the same reader ExampleGen uses, so a bad row fails in seconds
naming its file, line and column; and the task (kind, label vocabulary) is decided once.
"""
import collections
import dataclasses
import hashlib
import os
import pathlib
import re
import shutil
import tarfile
import tempfile
import urllib.request
from typing import Optional

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.utils import io_utils

from components.errors import InputDataError
from components.text_example_gen import records
from models import features
from models import task as task_lib
from pipeline.config import DataConfig

TRAIN, EVAL, TEST = "train", "eval", "test"
SPLIT_ALIASES = {TRAIN: ("train",), EVAL: ("eval", "dev", "valid", "validation"), TEST: ("test",)}
CLASS_FILES = "*/*.txt"
# scripts/env.sh sets this inside the Debian 13 userland, which sees only the host's
# top-level folders outside the operating system (/home, /root, /tmp, /srv, ...).
USERLAND_ENV = "TFX_TEXT_USERLAND"
USERLAND_HINT = (" here, inside the Debian 13 userland (scripts/env.sh). It sees the host's top-level folders "
                 "outside the operating system at the same paths; if the data is under /opt, /var or /usr on "
                 "the host, run again with TFX_TEXT_BINDS=<that folder> (colon-separated for several)")


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A data set's layout: what TextExampleGen reads and how it splits it."""
  input_base: str
  patterns: tuple[tuple[str, str], ...]  # (split, glob under input_base) for the splits the data has
  description: str                        # what the user passed, for error messages
  name: str                               # the data folder's name: the default pipeline name
  ignored_folders: tuple[str, ...] = ()

  @property
  def splits(self) -> tuple[str, ...]:
    return tuple(split for split, _ in self.patterns)


def slug(text: str) -> str:
  """A pipeline name from a folder name: lower case [a-z0-9-], as Kubeflow Pipelines
  requires (the TF Serving model name is the same with _ for -: PipelineConfig.serving_name)."""
  name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
  if not name:
    raise InputDataError(f"cannot derive a name from {text!r}; pass --name")
  return name


def _extract(archive: pathlib.Path, cache_dir: pathlib.Path) -> pathlib.Path:
  """Extracts an archive once into the cache; returns the folder it holds (or its root)."""
  key = hashlib.sha256(f"{archive.resolve()}:{archive.stat().st_size}:{archive.stat().st_mtime_ns}".encode()).hexdigest()[:16]
  target = cache_dir / "datasets" / f"{archive.name.split('.')[0]}-{key}"
  if not (target / ".complete").exists():
    print(f"[data] extracting {archive} into {target} (once)", flush=True)
    (cache_dir / "datasets").mkdir(parents=True, exist_ok=True)
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
  entries = [p for p in target.iterdir() if not p.name.startswith(".")]
  return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


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
          f"elsewhere and pass its local path (--data /path/to/archive.tar.gz)") from e
    partial.rename(target)
  return target


def _split_of(name: str) -> Optional[str]:
  stem = name.lower()
  for suffix in records.SUFFIXES:
    stem = stem.removesuffix(suffix)
  return next((split for split, aliases in SPLIT_ALIASES.items() if stem in aliases), None)


def _file_layout(folder: pathlib.Path, files: list) -> tuple:
  named = collections.defaultdict(list)
  for path in files:
    named[_split_of(path.name)].append(path.name)
  for split, names in named.items():
    if split and len(names) > 1:
      raise InputDataError(f"{folder}: {', '.join(sorted(names))} all name the {split} split; keep one")
  if any(named) and None not in named:
    return tuple((split, named[split][0]) for split in SPLIT_ALIASES if split in named)
  if any(named):
    raise InputDataError(f"{folder}: {', '.join(sorted(named[None]))} beside split files "
                         f"({', '.join(sorted(n for s, ns in named.items() if s for n in ns))}); "
                         f"name every file after a split (train, dev, test) or none")
  suffixes = {path.suffix for path in files}
  if len(suffixes) > 1:
    raise InputDataError(f"{folder}: mixes {', '.join(sorted(suffixes))} files; keep one format")
  return ((TRAIN, f"*{suffixes.pop()}"),)


def _folder_layout(folder: pathlib.Path, ignored) -> tuple:
  subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
  split_folders = {_split_of(p.name): p.name for p in subfolders if _split_of(p.name)}
  if split_folders:
    return tuple((split, f"{split_folders[split]}/{CLASS_FILES}") for split in SPLIT_ALIASES if split in split_folders)
  if not [p for p in subfolders if p.name not in ignored]:
    raise InputDataError(f"{folder}: no data found (expected class folders <class>/*.txt, "
                         f"split folders train/<class>/*.txt, or CSV / JSON Lines files)")
  return ((TRAIN, CLASS_FILES),)


def find(config: DataConfig, cache_dir: str) -> Dataset:
  """Locates (downloads, unpacks) the data and reads its layout."""
  cache = pathlib.Path(cache_dir)
  given = config.path
  path = _download(given, cache) if given.startswith(("http://", "https://")) else pathlib.Path(given).expanduser()
  if not path.exists():
    raise InputDataError(f"{given}: data path does not exist" + (USERLAND_HINT if os.environ.get(USERLAND_ENV) else ""))
  path = path.resolve()
  name = path.name
  for suffix in (".tar.gz", ".tgz", ".tar"):
    name = name.removesuffix(suffix)
  if path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar")):
    path = _extract(path, cache)
  if path.is_file():
    if not path.name.endswith(records.CSV_SUFFIXES + records.JSONL_SUFFIXES):
      raise InputDataError(f"{path}: expected a folder, a .tar.gz, a CSV or a JSON Lines file")
    return Dataset(str(path.parent), ((TRAIN, path.name),), given, slug(path.stem))
  if (path / "aclImdb").is_dir():
    path = path / "aclImdb"
  files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(records.CSV_SUFFIXES + records.JSONL_SUFFIXES))
  ignored = tuple(config.ignored_folders)
  patterns = _file_layout(path, files) if files else _folder_layout(path, ignored)
  if TRAIN not in dict(patterns):
    raise InputDataError(f"{path}: no train split (found {', '.join(s for s, _ in patterns)}); "
                         f"name the training data train.csv / train/")
  return Dataset(str(path), patterns, given, slug(name), ignored)


def schema_labels(schema_path: Optional[str]) -> Optional[tuple[str, ...]]:
  """The label's string domain in a curated schema, if it declares one."""
  if not schema_path:
    return None
  schema = io_utils.parse_pbtxt_file(schema_path, schema_pb2.Schema())
  for feature in schema.feature:
    if feature.name == features.DEFAULT_LABEL_KEY and feature.HasField("domain"):
      for domain in schema.string_domain:
        if domain.name == feature.domain:
          return tuple(domain.value)
  return None


def task_from_schema(schema_path: str, kind: str = "auto", **columns) -> task_lib.Task:
  """The task a curated schema declares, reading no data (the Kubeflow compile): labels
  from the label's domain; multi-label when the label may hold several values."""
  labels = schema_labels(schema_path)
  if not labels:
    raise InputDataError(f"{schema_path}: the label feature declares no string domain (the label vocabulary)")
  schema = io_utils.parse_pbtxt_file(schema_path, schema_pb2.Schema())
  label = next(f for f in schema.feature if f.name == features.DEFAULT_LABEL_KEY)
  single = label.HasField("shape") or (label.HasField("value_count") and label.value_count.max == 1)
  return task_lib.decide(kind, labels, not single, labels, **columns)


def _files(dataset: Dataset, pattern: str) -> list:
  root = pathlib.Path(dataset.input_base)
  paths = sorted(str(p) for p in root.glob(pattern)
                 if not (p.suffix == ".txt" and p.parent.name in dataset.ignored_folders))
  if not paths:
    where = root / pattern
    if pattern.endswith(CLASS_FILES):
      raise InputDataError(f"{where.parent.parent}: no class folders with .txt files "
                           f"(expected sub-folders such as neg/ and pos/)")
    raise InputDataError(f"{where}: no files match")
  return paths


def _class_folders(dataset: Dataset, split_files: dict) -> dict:
  """Class-folder data: the label is the folder; list, do not read (ExampleGen checks files)."""
  classes = {}
  for split, paths in split_files.items():
    classes[split] = collections.Counter(os.path.basename(os.path.dirname(p)) for p in paths)
  pattern_root = pathlib.Path(dataset.input_base)
  for split, pattern in dataset.patterns:
    for folder in sorted((pattern_root / pattern).parent.parent.glob("*/")):
      if folder.is_dir() and folder.name not in dataset.ignored_folders and folder.name not in classes[split]:
        raise InputDataError(f"{folder}: empty class folder (no .txt files)")
  return classes


def decide_task(dataset: Dataset, config: DataConfig, schema_path: Optional[str]) -> task_lib.Task:
  """The task the data makes (decide_task_and_count without the counts)."""
  return decide_task_and_count(dataset, config, schema_path)[0]


def decide_task_and_count(dataset: Dataset, config: DataConfig,
                          schema_path: Optional[str]) -> tuple[task_lib.Task, dict]:
  """Reads every split once: checks each row, decides the task (kind, vocabulary) and
  counts each label's examples per split ({split: Counter}).

  The vocabulary is the curated schema's label domain, else the train split's labels,
  sorted. Fails, naming the file and line, on a row the task cannot use; and on a label
  no training example carries.
  """
  columns = dict(text_column=config.text_column, label_column=config.label_column,
                 label_delimiter=config.label_delimiter)
  split_files = {split: _files(dataset, pattern) for split, pattern in dataset.patterns}
  domain = schema_labels(schema_path)
  try:
    if all(p.endswith(records.TEXT_SUFFIXES) for paths in split_files.values() for p in paths):
      counts = _class_folders(dataset, split_files)
      task = task_lib.decide(config.task, counts[TRAIN], False, domain, **columns)
      for split, found in counts.items():
        unknown = sorted(set(found) - set(task.labels))
        if unknown:
          split_root = (pathlib.Path(dataset.input_base) / dict(dataset.patterns)[split]).parent.parent
          raise InputDataError(f"{split_root / unknown[0]}: class folder not in the task's labels "
                               f"({', '.join(task.labels)})")
      train_counts = counts[TRAIN]
      split_counts = {split: collections.Counter(found) for split, found in counts.items()}
    else:
      # One streaming pass: each split's distinct label fields with their count and first
      # row (for error messages), so memory grows with the label combinations, not the rows.
      distinct = {split: {} for split in split_files}
      for split, paths in split_files.items():
        for r in records.read_files(paths, config.text_column, config.label_column):
          seen_row = distinct[split].setdefault(r.labels, [0, r])
          seen_row[0] += 1
      if config.task in (None, "", "auto"):
        multi_valued = any(len(labels) > 1 or config.label_delimiter in labels[0]
                           for fields in distinct.values() for labels in fields)
      else:
        multi_valued = config.task == task_lib.MULTI_LABEL
      seen = collections.Counter()
      for count, r in distinct[TRAIN].values():
        for label in records.split_labels(r, multi_valued, config.label_delimiter, config.label_column):
          seen[label] += count
      task = task_lib.decide(config.task, seen, multi_valued, domain, **columns)
      split_counts = {split: collections.Counter() for split in distinct}
      for split, fields in distinct.items():
        for count, r in fields.values():
          for label in records.task_labels(r, task):
            split_counts[split][label] += count
      train_counts = split_counts[TRAIN]
  except task_lib.TaskError as e:
    raise InputDataError(f"{dataset.description}: {e}") from e
  missing = [label for label in task.labels if not train_counts[label]]
  if missing:
    raise InputDataError(f"{dataset.description}: label {missing[0]!r} has no training example "
                         f"(train split: {', '.join(split_files[TRAIN][:3])}"
                         f"{', ...' if len(split_files[TRAIN]) > 3 else ''})")
  return task, split_counts
