"""LocalInfraValidator: TFX's InfraValidator contract (model and examples in, an
InfraBlessing out, which the Pusher requires) against the TF Serving-compatible local
server, run in its own process on a fresh copy of the model."""
from typing import Optional

from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as specs

from components.local_infra_validator import executor


class LocalInfraValidatorSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      executor.NUM_EXAMPLES_KEY: component_spec.ExecutionParameter(type=int, optional=True),
      executor.SPLIT_KEY: component_spec.ExecutionParameter(type=str, optional=True),
      executor.MAX_LOADING_SECONDS_KEY: component_spec.ExecutionParameter(type=int, optional=True),
  }
  INPUTS = {
      specs.MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
      specs.EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
  }
  OUTPUTS = {
      specs.BLESSING_KEY: component_spec.ChannelParameter(type=standard_artifacts.InfraBlessing),
  }


class LocalInfraValidator(base_component.BaseComponent):
  """Blesses a model that the server loads and answers, through every signature over
  gRPC and REST, exactly as the model answers in process (executor.py)."""

  SPEC_CLASS = LocalInfraValidatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model: channel.BaseChannel, examples: channel.BaseChannel, num_examples: Optional[int] = None,
               split: Optional[str] = None, max_loading_time_seconds: Optional[int] = None):
    super().__init__(spec=LocalInfraValidatorSpec(
        model=model, examples=examples, blessing=channel.Channel(type=standard_artifacts.InfraBlessing),
        num_examples=num_examples, split=split, max_loading_time_seconds=max_loading_time_seconds))
