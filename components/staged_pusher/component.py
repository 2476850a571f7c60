"""StagedPusher: TFX's Pusher, with a push no model server can see half done."""
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.staged_pusher import executor


class StagedPusher(tfx.components.Pusher):
  """Pushes a blessed model to `<base_directory>/<version>/` by staging and renaming
  (executor.py). Same inputs, outputs and PushDestination as TFX's Pusher."""

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
