"""The aclImdb folder layout: <split>/<class>/<id>_<rating>.txt.

Class names are the sub-folder names, sorted, as tf.keras text_dataset_from_directory
derives them; unlabelled folders (aclImdb/train/unsup) are ignored. Used by the
executor and by the pipeline's up-front input check, so both agree on the layout.
"""
import os
from typing import Iterable

import tensorflow as tf

from components.errors import InputDataError

REVIEW_GLOB = "*/*.txt"
DEFAULT_IGNORED_FOLDERS = ("unsup",)


def split_pattern(split_folder: str) -> str:
  return f"{split_folder}/{REVIEW_GLOB}"


def split_root(input_base: str, pattern: str) -> str:
  if not pattern.endswith("/" + REVIEW_GLOB):
    raise ValueError(f"split pattern {pattern!r} must have the form '<folder>/{REVIEW_GLOB}'")
  return os.path.join(input_base, pattern[: -len(REVIEW_GLOB) - 1])


def discover_classes(root: str, ignored: Iterable[str] = DEFAULT_IGNORED_FOLDERS) -> list[str]:
  """Sorted class folder names under root (unlabelled folders left out)."""
  if not tf.io.gfile.isdir(root):
    raise InputDataError(f"{root}: missing split folder (expected <split>/<class>/*.txt)")
  ignored = set(ignored)
  classes = sorted(d.rstrip("/") for d in tf.io.gfile.listdir(root)
                   if tf.io.gfile.isdir(os.path.join(root, d)) and d.rstrip("/") not in ignored)
  if not classes:
    raise InputDataError(f"{root}: no class folders (expected sub-folders such as neg/ and pos/)")
  return classes


def list_reviews(root: str, classes: Iterable[str]) -> list[tuple[str, str]]:
  """(path, class) for every review, sorted by path; each class must hold one or more."""
  reviews = []
  for name in classes:
    paths = tf.io.gfile.glob(os.path.join(root, name, "*.txt"))
    if not paths:
      raise InputDataError(f"{os.path.join(root, name)}: empty class folder (no .txt reviews)")
    reviews += [(path, name) for path in paths]
  return sorted(reviews)


def read_splits(roots: Iterable[str], ignored: Iterable[str] = DEFAULT_IGNORED_FOLDERS
                ) -> tuple[list[str], dict[str, list[tuple[str, str]]]]:
  """The class names every split root shares, and each root's (path, class) reviews.

  One listing per class folder; a split whose classes differ from the others' fails.
  """
  classes, reviews = None, {}
  for root in roots:
    found = discover_classes(root, ignored)
    if classes is not None and found != classes:
      raise InputDataError(f"{root}: class folders {found} differ from {classes} in the other splits")
    classes = found
    reviews[root] = list_reviews(root, found)
  return classes, reviews


def read_review(path: str) -> str:
  """Reads one review, strictly UTF-8 and non-empty, naming the file on failure."""
  with tf.io.gfile.GFile(path, "rb") as f:
    raw = f.read()
  try:
    text = raw.decode("utf-8")
  except UnicodeDecodeError as e:
    raise InputDataError(f"{path}: not valid UTF-8 (byte {e.start}: {raw[e.start:e.start + 4]!r})") from e
  if not text.strip():
    raise InputDataError(f"{path}: empty review file")
  return text
