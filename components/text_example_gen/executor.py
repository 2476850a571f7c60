"""TextExampleGen's executor: text files (class folders, CSV, JSON Lines) -> tf.Examples.

It follows FileBasedExampleGen's contract: each input split's glob pattern is read by
`GetInputSourceToExamplePTransform`, and an output split_config divides a single input
split by hash, as TFX's own ExampleGens do. One extension, for data that comes with a
train and a test split but no eval split (aclImdb, TREC): a `holdout` SplitConfig in the
custom config divides the *train* input split by hash the same way (train 9 : eval 1).
Hash splits partition on the text, so duplicate texts never straddle two splits.
"""
import os
from typing import Any, Dict, List, Optional

import apache_beam as beam
from apache_beam.runners.direct import direct_runner
from apache_beam.runners.portability.fn_api_runner import fn_runner as fn_api_runner
import tensorflow as tf
from google.protobuf import json_format
from google.protobuf import struct_pb2
from tfx import types
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import utils
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.errors import InputDataError
from components.text_example_gen import records
from models import task as task_lib

# Keys of the custom config (a Struct packed in example_gen_pb2.CustomConfig).
TASK_KEY = "task"                      # models.task.Task as JSON
HOLDOUT_KEY = "holdout"                # example_gen_pb2.SplitConfig as JSON, applied to HOLDOUT_SOURCE
IGNORED_FOLDERS_KEY = "ignored_folders"  # class folders without labels (aclImdb's train/unsup)
SOURCES_SHA256_KEY = "sources_sha256"  # read by nothing: keys TFX's cache (pipeline/sources.py)
ROW_IDS_KEY = "row_ids"                # each example's origin in a `row_id` feature (scoring)
HOLDOUT_SOURCE = "train"


def make_custom_config(task: task_lib.Task, holdout: Optional[example_gen_pb2.SplitConfig],
                       ignored_folders=(), sources_sha256: str = "", row_ids: bool = False) -> example_gen_pb2.CustomConfig:
  values = struct_pb2.Struct()
  values.update({TASK_KEY: task.to_json(), IGNORED_FOLDERS_KEY: list(ignored_folders),
                 HOLDOUT_KEY: json_format.MessageToJson(holdout) if holdout else "",
                 SOURCES_SHA256_KEY: sources_sha256, ROW_IDS_KEY: row_ids})
  config = example_gen_pb2.CustomConfig()
  config.custom_config.Pack(values)
  return config


def read_custom_config(exec_properties: Dict[str, Any]) -> dict:
  config = example_gen_pb2.CustomConfig()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], config)
  values = struct_pb2.Struct()
  config.custom_config.Unpack(values)
  return json_format.MessageToDict(values)


def holdout_config(exec_properties: Dict[str, Any]) -> Optional[example_gen_pb2.SplitConfig]:
  text = read_custom_config(exec_properties).get(HOLDOUT_KEY)
  return proto_utils.json_to_proto(text, example_gen_pb2.SplitConfig()) if text else None


def output_split_names(exec_properties: Dict[str, Any]) -> List[str]:
  input_config = proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                           example_gen_pb2.Input())
  output_config = proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                                            example_gen_pb2.Output())
  names = utils.generate_output_split_names(input_config, output_config)
  holdout = holdout_config(exec_properties)
  if holdout:
    names = [n for n in names if n != HOLDOUT_SOURCE] + [s.name for s in holdout.splits]
  return names


def _list_files(input_base: str, pattern: str, ignored_folders) -> List[str]:
  paths = sorted(p for p in tf.io.gfile.glob(os.path.join(input_base, pattern))
                 if not (p.endswith(records.TEXT_SUFFIXES)
                         and os.path.basename(os.path.dirname(p)) in ignored_folders))
  if not paths:
    raise InputDataError(f"{os.path.join(input_base, pattern)}: no files match")
  return paths


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _TextToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],  # pylint: disable=invalid-name
                   split_pattern: str) -> beam.pvalue.PCollection:
  custom = read_custom_config(exec_properties)
  task = task_lib.Task.from_json(custom[TASK_KEY])
  paths = _list_files(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern,
                      set(custom.get(IGNORED_FOLDERS_KEY) or ()))
  return (pipeline
          | "ListFiles" >> beam.Create(paths, reshuffle=len(paths) > 1)
          | "ReadRecords" >> beam.FlatMap(records.read_file, task.text_column, task.label_column)
          | "ToExample" >> beam.Map(records.to_example, task, bool(custom.get(ROW_IDS_KEY))))


def shuffles_in_memory(pipeline: beam.Pipeline) -> bool:
  """Whether the pipeline's runner is Beam's DirectRunner, which holds a shuffle's input in memory."""
  return isinstance(pipeline.runner, (direct_runner.SwitchingDirectRunner, direct_runner.BundleBasedDirectRunner,
                                      fn_api_runner.FnApiRunner))


def write_splits(pipeline: beam.Pipeline, splits: Dict[str, beam.pvalue.PCollection],
                 examples: types.Artifact, file_format, exec_properties: Dict[str, Any]) -> None:
  """Writes each split where the Examples artifact says, as TFX's WriteSplit does.

  TFX's WriteSplit shuffles every split before writing it (its own TODO: "make shuffle
  optional"). On a distributed runner that shuffle spreads a big file's serialisation and
  writing over the workers. On the DirectRunner it spreads nothing (one process) and
  hardly reorders: measured on 400k rows, the shuffled train split kept the source's order
  (each row moved 7 places on average, correlation 0.99996), while its grouping held the
  whole split in memory (peak 3.70 GiB against 1.00 GiB without it, about 7 GiB per
  million IMDB-length texts). So on the DirectRunner the records are written in the source's
  order without it; the Trainer's shuffle buffer is what mixes them (models/trainer.py).
  """
  unshuffled = shuffles_in_memory(pipeline)
  for split, records_of_split in splits.items():
    uri = artifact_utils.get_split_uri([examples], split)
    if unshuffled:
      _ = (records_of_split
           | f"Serialize[{split}]" >> beam.ParDo(write_split.MaybeSerialize())
           | f"Write[{split}]" >> beam.io.WriteToTFRecord(os.path.join(uri, write_split.DEFAULT_FILE_NAME),
                                                          file_name_suffix=".gz"))
    else:
      _ = records_of_split | f"WriteSplit[{split}]" >> write_split.WriteSplit(uri, file_format, exec_properties)


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """Text files to tf.Examples {text, label}; see the module docstring for splits."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _TextToExample

  def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                             exec_properties: Dict[str, Any]) -> Dict[str, beam.pvalue.PCollection]:
    splits = super().GenerateExamplesByBeam(pipeline, exec_properties)
    holdout = holdout_config(exec_properties)
    if holdout:
      buckets, total = [], 0
      for split in holdout.splits:
        total += split.hash_buckets
        buckets.append(total)
      parts = splits.pop(HOLDOUT_SOURCE) | "Holdout" >> beam.Partition(
          base_example_gen_executor._PartitionFn, len(buckets), buckets, holdout)  # pylint: disable=protected-access
      splits.update(zip([s.name for s in holdout.splits], parts))
    return splits

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    """BaseExampleGenExecutor.Do, with the holdout's splits among the artifact's split names."""
    self._log_startup(input_dict, output_dict, exec_properties)
    examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
    examples.split_names = artifact_utils.encode_split_names(output_split_names(exec_properties))
    file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY,
                                      example_gen_pb2.FILE_FORMAT_UNSPECIFIED)
    with self._make_beam_pipeline() as pipeline:
      write_splits(pipeline, self.GenerateExamplesByBeam(pipeline, exec_properties), examples,
                   file_format, exec_properties)
    payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
    if payload_format:
      examples_utils.set_payload_format(examples, payload_format)
    if file_format:
      examples_utils.set_file_format(examples, write_split.to_file_format_str(file_format))
