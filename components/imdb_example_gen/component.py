"""ImdbExampleGen: a FileBasedExampleGen over class-folder text datasets (aclImdb)."""
import json
from typing import Mapping, Optional, Sequence

from tfx.components.example_gen.component import FileBasedExampleGen
from tfx import types
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import component_spec
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs

from components.imdb_example_gen import executor
from components.imdb_example_gen import layout


class ImdbExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
  PARAMETERS = {
      **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
      executor.IGNORED_FOLDERS_KEY: component_spec.ExecutionParameter(type=str),
      executor.SPLIT_PERCENT_KEY: component_spec.ExecutionParameter(type=str),
  }


class ImdbExampleGen(FileBasedExampleGen):
  """Splits `train` and `eval` from aclImdb/train (by hash, 80/20), `test` from aclImdb/test."""

  SPEC_CLASS = ImdbExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, input_base: str,
               split_folders: Optional[Mapping[str, str]] = None,
               split_percent: Optional[Mapping[str, int]] = None,
               ignored_folders: Sequence[str] = layout.DEFAULT_IGNORED_FOLDERS):
    split_folders = split_folders or {"train": "train", "eval": "train", "test": "test"}
    split_percent = split_percent or {"train": 80, "eval": 20}
    input_config = example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=name, pattern=layout.split_pattern(folder))
        for name, folder in split_folders.items()])
    spec = ImdbExampleGenSpec(
        input_base=input_base,
        input_config=input_config,
        output_config=example_gen_pb2.Output(),  # output splits = input splits
        custom_config=None,
        range_config=None,
        output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
        output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        examples=types.Channel(type=standard_artifacts.Examples),
        **{executor.IGNORED_FOLDERS_KEY: json.dumps(list(ignored_folders)),
           executor.SPLIT_PERCENT_KEY: json.dumps(dict(split_percent))})
    # FileBasedExampleGen.__init__ builds its own spec class; skip to the base component.
    base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
