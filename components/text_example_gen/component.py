"""TextExampleGen: a FileBasedExampleGen for text classification data.

Reads class folders (`<split>/<class>/*.txt` or `<class>/*.txt`), CSV and JSON Lines
into tf.Examples with two features, `text` and `label` (several values in a multi-label
task), whatever the input's column names. Configured as every FileBasedExampleGen is:
input_base, an input_config of split patterns and an output_config; the task and an
optional train/eval holdout travel in the custom config (see executor.py), with the
run's sources fingerprint, which only keys TFX's cache (pipeline/sources.py). For
scoring, a task with no label column reads unlabelled texts, and `row_ids` adds each
row's origin (file, line) as a `row_id` feature.
"""
from typing import Optional, Sequence

from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.text_example_gen import executor
from models import task as task_lib


class TextExampleGen(FileBasedExampleGen):

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, input_base: str, task: task_lib.Task, input_config: example_gen_pb2.Input,
               output_config: Optional[example_gen_pb2.Output] = None,
               holdout: Optional[example_gen_pb2.SplitConfig] = None,
               ignored_folders: Sequence[str] = (), sources_sha256: str = "", row_ids: bool = False):
    super().__init__(input_base=input_base, input_config=input_config,
                     output_config=output_config or example_gen_pb2.Output(),  # output splits = input splits
                     custom_config=executor.make_custom_config(task, holdout, ignored_folders, sources_sha256,
                                                               row_ids))
