"""AnomaliesGate: lets Transform and Trainer run only on data that passed validation."""
from typing import Optional

from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import channel
from tfx.types import component_spec
from tfx.types import standard_artifacts

from components.anomalies_gate import executor


class AnomaliesGateSpec(component_spec.ComponentSpec):
  PARAMETERS = {
      executor.DATA_DESCRIPTION_KEY: component_spec.ExecutionParameter(type=str, optional=True),
  }
  INPUTS = {
      executor.ANOMALIES_KEY: component_spec.ChannelParameter(type=standard_artifacts.ExampleAnomalies),
  }
  OUTPUTS = {}


class AnomaliesGate(base_component.BaseComponent):
  """Raises AnomaliesFoundError, naming each anomaly, when any split has one.

  Downstream components declare it upstream (`add_upstream_node`), so a failed gate
  stops the run before Transform.
  """

  SPEC_CLASS = AnomaliesGateSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, anomalies: channel.BaseChannel, data_description: Optional[str] = None):
    super().__init__(spec=AnomaliesGateSpec(anomalies=anomalies, data_description=data_description))
