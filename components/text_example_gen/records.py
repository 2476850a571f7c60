"""Reads text-classification records from files, strictly, naming the place of any fault.

One reader for the three layouts a user brings, shared by the up-front data check
(pipeline/inputs.py) and the ExampleGen executor, so both accept exactly the same data:
  *.txt          one example per file; its label is the name of the folder it lies in
  *.csv          a header row, then one example per row (RFC 4180 quoting)
  *.jsonl/.json  JSON Lines: one object per line; the label a string or a list of strings
A fault names the file, the line and the column: "train.csv, line 12, column 'label': ...".
Unlabelled data (texts to score) is read with label_column "": no label is required,
and a .txt file's folder is not a label.
"""
import csv
import dataclasses
import json
import os
import re
from typing import Iterator, Sequence

import tensorflow as tf

from components.errors import InputDataError
from models import features
from models import task as task_lib

TEXT_SUFFIXES = (".txt",)
CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".json")
SUFFIXES = TEXT_SUFFIXES + CSV_SUFFIXES + JSONL_SUFFIXES


@dataclasses.dataclass(frozen=True)
class Record:
  text: str
  labels: tuple[str, ...]   # as written: one field (maybe delimited), or a JSON list
  where: str                # "file, line N" for error messages


_LONE_CR = re.compile(r"(?<=\r)(?!\n)")   # a line end in files saved with CR only (classic Mac Excel)
_CHUNK = 1 << 20


def _raw_lines(f) -> Iterator[bytes]:
  """f's lines as written, each with its \n. Not GFile.readline: it drops every \r byte."""
  pending = b""
  for chunk in iter(lambda: f.read(_CHUNK), b""):
    *lines, pending = (pending + chunk).split(b"\n")
    yield from (line + b"\n" for line in lines)
  if pending:
    yield pending


def _lines(path: str) -> Iterator[str]:
  """The file's lines, decoded one at a time, so memory is bounded by the longest line, not
  the file (a whole 1.3 GB CSV in memory as bytes, str and StringIO took 8.6 GB). Lines end
  at \n, \r\n or a lone \r, as with open(newline=""). A byte that is not UTF-8 is named by
  its line and its offset in the file."""
  offset = 0
  with tf.io.gfile.GFile(path, "rb") as f:
    for number, raw in enumerate(_raw_lines(f), start=1):
      try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
      except UnicodeDecodeError as e:
        raise InputDataError(f"{path}, line {number}: not valid UTF-8 (byte {offset + e.start}: "
                             f"{raw[e.start:e.start + 4]!r})") from e
      yield from (piece for piece in _LONE_CR.split(text) if piece) if "\r" in text else (text,)
      offset += len(raw)


def _text_file(path: str, labelled: bool = True) -> Iterator[Record]:
  text = "".join(_lines(path))
  if not text.strip():
    raise InputDataError(f"{path}: empty text file")
  yield Record(text, (os.path.basename(os.path.dirname(path)),) if labelled else (), path)


def _csv_file(path: str, text_column: str, label_column: str) -> Iterator[Record]:
  reader = csv.reader(_lines(path), strict=True)
  try:
    header = next(reader, None)
    if header is None:
      raise InputDataError(f"{path}: empty CSV file (no header row)")
    for column in (text_column, label_column) if label_column else (text_column,):
      if column not in header:
        raise InputDataError(f"{path}: no column {column!r} (columns: {', '.join(header) or 'none'}); "
                             f"set --text-column / --label-column")
    text_at = header.index(text_column)
    label_at = header.index(label_column) if label_column else None
    for row in reader:
      where = f"{path}, line {reader.line_num}"
      if not row:
        continue
      if len(row) != len(header):
        raise InputDataError(f"{where}: {len(row)} fields, the header has {len(header)}")
      yield _checked(row[text_at], (row[label_at],) if label_at is not None else (), where, text_column, label_column)
  except csv.Error as e:
    raise InputDataError(f"{path}, line {reader.line_num}: malformed CSV ({e})") from e


def _jsonl_file(path: str, text_column: str, label_column: str) -> Iterator[Record]:
  for number, line in enumerate(_lines(path), start=1):
    if not line.strip():
      continue
    where = f"{path}, line {number}"
    try:
      row = json.loads(line)
    except json.JSONDecodeError as e:
      raise InputDataError(f"{where}: not valid JSON ({e.msg}, column {e.colno})") from e
    if not isinstance(row, dict):
      raise InputDataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for column in (text_column, label_column) if label_column else (text_column,):
      if column not in row:
        raise InputDataError(f"{where}: no field {column!r} (fields: {', '.join(row) or 'none'})")
    text, label = row[text_column], row[label_column] if label_column else None
    if not isinstance(text, str):
      raise InputDataError(f"{where}, field {text_column!r}: expected a string, got {type(text).__name__}")
    if not label_column:
      labels = ()
    elif isinstance(label, (str, int)) and not isinstance(label, bool):
      labels = (str(label),)
    elif isinstance(label, list) and all(isinstance(v, str) for v in label):
      labels = tuple(label)
    else:
      raise InputDataError(f"{where}, field {label_column!r}: expected a string or a list of strings, "
                           f"got {json.dumps(label)[:40]}")
    yield _checked(text, labels, where, text_column, label_column)


def _checked(text: str, labels: tuple[str, ...], where: str, text_column: str, label_column: str) -> Record:
  if not text.strip():
    raise InputDataError(f"{where}, column {text_column!r}: empty text")
  if label_column and (not labels or not any(v.strip() for v in labels)):
    raise InputDataError(f"{where}, column {label_column!r}: no label")
  return Record(text, labels, where)


def read_file(path: str, text_column: str = features.DEFAULT_TEXT_KEY,
              label_column: str = features.DEFAULT_LABEL_KEY) -> Iterator[Record]:
  """Every record of one file, checked; the suffix picks the layout."""
  if path.endswith(TEXT_SUFFIXES):
    return _text_file(path, labelled=bool(label_column))
  if path.endswith(CSV_SUFFIXES):
    return _csv_file(path, text_column, label_column)
  if path.endswith(JSONL_SUFFIXES):
    return _jsonl_file(path, text_column, label_column)
  raise InputDataError(f"{path}: unsupported file type (expected {', '.join(SUFFIXES)})")


def split_labels(record: Record, multi_label: bool, delimiter: str, column: str) -> tuple[str, ...]:
  """The record's labels: a multi-label field split on the delimiter; exactly one otherwise."""
  values = record.labels
  if multi_label and len(values) == 1:
    values = tuple(values[0].split(delimiter))
  values = tuple(v.strip() for v in values)
  where = f"{record.where}, column {column!r}"
  if not multi_label and len(values) != 1:
    raise InputDataError(f"{where}: {len(values)} labels in a single-label task")
  if not all(values):
    raise InputDataError(f"{where}: an empty label in {delimiter.join(values)!r}")
  return tuple(dict.fromkeys(values))


def task_labels(record: Record, task: task_lib.Task) -> tuple[str, ...]:
  """The record's labels for this task, each in the task's vocabulary; () for unlabelled
  data (label_column "")."""
  if not task.label_column:
    return ()
  values = split_labels(record, task.kind == task_lib.MULTI_LABEL, task.label_delimiter, task.label_column)
  unknown = [v for v in values if v not in task.labels]
  if unknown:
    raise InputDataError(f"{record.where}, column {task.label_column!r}: label {unknown[0]!r} is not in the "
                         f"task's labels ({', '.join(task.labels)})")
  return values


def to_example(record: Record, task: task_lib.Task, row_ids: bool = False) -> tf.train.Example:
  """The canonical {text, label} tf.Example: whatever the input's column names, every
  later step (schema, Transform, serving clients) reads `text` and `label`. Unlabelled
  data has no `label`; with row_ids, `row_id` says where the row came from (file, line)."""
  feature = {features.DEFAULT_TEXT_KEY: _bytes(record.text)}
  if task.label_column:
    feature[features.DEFAULT_LABEL_KEY] = _bytes(*task_labels(record, task))
  if row_ids:
    feature[features.ROW_ID_KEY] = _bytes(record.where)
  return tf.train.Example(features=tf.train.Features(feature=feature))


def _bytes(*values: str) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode("utf-8") for v in values]))


def read_files(paths: Sequence[str], text_column: str, label_column: str) -> Iterator[Record]:
  for path in paths:
    yield from read_file(path, text_column, label_column)
