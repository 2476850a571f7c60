"""StagedPusher: TFX's Pusher, with a push no model server can see half done."""
import json
from typing import Optional

from tfx.components.pusher.component import Pusher
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.proto import pusher_pb2
from tfx.types import component_spec
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs

from components.model_card_generator import artifact as card_artifact
from components.staged_pusher import executor


class StagedPusherSpec(standard_component_specs.PusherSpec):
  """TFX's PusherSpec and an optional model card to push with the model."""
  INPUTS = {
      **standard_component_specs.PusherSpec.INPUTS,
      executor.MODEL_CARD_KEY: component_spec.ChannelParameter(type=card_artifact.ModelCard, optional=True),
  }


class StagedPusher(Pusher):
  """Pushes a blessed model to `<base_directory>/<version>/` by staging and renaming
  (executor.py). TFX's Pusher's inputs, outputs and PushDestination, plus `model_card`."""

  SPEC_CLASS = StagedPusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model: channel.BaseChannel, model_blessing: channel.BaseChannel,
               push_destination: pusher_pb2.PushDestination, infra_blessing: Optional[channel.BaseChannel] = None,
               model_card: Optional[channel.BaseChannel] = None):
    base_component.BaseComponent.__init__(self, spec=StagedPusherSpec(  # pylint: disable=non-parent-init-called
        model=model, model_blessing=model_blessing, infra_blessing=infra_blessing, model_card=model_card,
        push_destination=push_destination, custom_config=json.dumps(None),
        pushed_model=channel.Channel(type=standard_artifacts.PushedModel)))
