"""ModelCardGenerator: the model card (Markdown and HTML) and its error analysis, before the push.

Like tfx-addons' ModelCardGenerator (statistics, evaluation and model in, a card out),
without model-card-toolkit, which cannot be installed beside TFX 1.21 (protobuf): the
card is rendered from the report's Jinja2 templates (pipeline/report/templates). It
also reads BulkInferrer's predictions on the test split, for the examples the model got
most confidently wrong. The StagedPusher copies the card into the pushed version.
"""
from typing import Optional

from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts

from components.model_card_generator import artifact
from components.model_card_generator import executor


class ModelCardGeneratorSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      executor.TASK_KEY: component_spec.ExecutionParameter(type=str),
      executor.PIPELINE_NAME_KEY: component_spec.ExecutionParameter(type=str),
      executor.INTENDED_USE_KEY: component_spec.ExecutionParameter(type=str, optional=True),
      executor.EXAMPLES_PER_CLASS_KEY: component_spec.ExecutionParameter(type=int, optional=True),
  }
  INPUTS = {
      executor.MODEL_KEY: component_spec.ChannelParameter(type=standard_artifacts.Model),
      executor.STATISTICS_KEY: component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics),
      executor.EVALUATION_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation),
      executor.BLESSING_KEY: component_spec.ChannelParameter(type=standard_artifacts.ModelBlessing),
      executor.INFERENCE_KEY: component_spec.ChannelParameter(type=standard_artifacts.InferenceResult),
      executor.INFRA_BLESSING_KEY: component_spec.ChannelParameter(type=standard_artifacts.InfraBlessing,
                                                                   optional=True),
  }
  OUTPUTS = {
      executor.MODEL_CARD_KEY: component_spec.ChannelParameter(type=artifact.ModelCard),
  }


class ModelCardGenerator(base_component.BaseComponent):
  """Writes model_card.md, model_card.html and error_analysis.json (artifact.py)."""

  SPEC_CLASS = ModelCardGeneratorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model: channel.BaseChannel, statistics: channel.BaseChannel, evaluation: channel.BaseChannel,
               blessing: channel.BaseChannel, inference_result: channel.BaseChannel, task_json: str,
               pipeline_name: str, infra_blessing: Optional[channel.BaseChannel] = None, intended_use: str = "",
               examples_per_class: int = executor.EXAMPLES_PER_CLASS):
    super().__init__(spec=ModelCardGeneratorSpec(
        model=model, statistics=statistics, evaluation=evaluation, blessing=blessing,
        inference_result=inference_result, infra_blessing=infra_blessing, task=task_json,
        pipeline_name=pipeline_name, intended_use=intended_use, examples_per_class=examples_per_class,
        model_card=channel.Channel(type=artifact.ModelCard)))
