"""Reads aclImdb-layout review folders into tf.Examples {text, label}.

Input splits name a folder each (`train/*/*.txt`). Splits that share a pattern divide
its files between them by a SHA-256 hash of the file's path relative to input_base, in
the proportions of `split_percent`: with train and eval both on `train/*/*.txt` at
80/20, eval is a deterministic 20% of aclImdb/train, the same on every run and machine.
"""
import collections
import hashlib
import json
import os
from typing import Any, Dict

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.types import standard_component_specs
from tfx.proto import example_gen_pb2
from tfx.utils import proto_utils

from components.imdb_example_gen import layout
from models import features

IGNORED_FOLDERS_KEY = "ignored_folders"
SPLIT_PERCENT_KEY = "split_percent"


def _bucket(relative_path: str) -> int:
  return int(hashlib.sha256(relative_path.encode("utf-8")).hexdigest(), 16) % 100


def _to_example(item: tuple[str, str]) -> tf.train.Example:
  path, label = item
  text = layout.read_review(path)
  return tf.train.Example(features=tf.train.Features(feature={
      features.DEFAULT_TEXT_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode("utf-8")])),
      features.DEFAULT_LABEL_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode("utf-8")])),
  }))


def _shares(splits: list[str], percent: Dict[str, int], pattern: str) -> list[tuple[str, int, int]]:
  """[(split, low, high)] bucket ranges for splits reading the same pattern."""
  missing = [s for s in splits if s not in percent]
  if missing or sum(percent[s] for s in splits) != 100:
    raise ValueError(f"splits {splits} share pattern {pattern!r}: {SPLIT_PERCENT_KEY} must give "
                     f"each a percentage, summing to 100 (got {percent})")
  ranges, low = [], 0
  for split in splits:
    ranges.append((split, low, low + percent[split]))
    low += percent[split]
  return ranges


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """ExampleGen executor for class-folder text datasets (aclImdb)."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    raise NotImplementedError("GenerateExamplesByBeam reads the folders directly")

  def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                             exec_properties: Dict[str, Any]) -> Dict[str, beam.pvalue.PCollection]:
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    input_config = proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], example_gen_pb2.Input())
    ignored = json.loads(exec_properties.get(IGNORED_FOLDERS_KEY) or "[]")
    percent = json.loads(exec_properties.get(SPLIT_PERCENT_KEY) or "{}")

    by_pattern = collections.OrderedDict()
    for split in input_config.splits:
      by_pattern.setdefault(split.pattern, []).append(split.name)

    roots = {pattern: layout.split_root(input_base, pattern) for pattern in by_pattern}
    _, reviews = layout.read_splits(roots.values(), ignored)
    result = {}
    for pattern, splits in by_pattern.items():
      ranges = _shares(splits, percent, pattern) if len(splits) > 1 else [(splits[0], 0, 100)]
      for split, low, high in ranges:
        chosen = [r for r in reviews[roots[pattern]]
                  if low <= _bucket(os.path.relpath(r[0], input_base)) < high]
        result[split] = (pipeline
                         | f"ListFiles[{split}]" >> beam.Create(chosen, reshuffle=True)
                         | f"ToExample[{split}]" >> beam.Map(_to_example))
    return result
