"""Fails the run when ExampleValidator found anomalies, naming each one.

ExampleValidator records anomalies but does not stop a pipeline; without this gate a
model would be trained, and possibly pushed, from data that broke the schema.
"""
import os
from typing import Any, Dict, List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.errors import AnomaliesFoundError

ANOMALIES_KEY = "anomalies"
DATA_DESCRIPTION_KEY = "data_description"
ANOMALIES_FILE = "SchemaDiff.pb"


def describe(split: str, anomalies: anomalies_pb2.Anomalies) -> List[str]:
  """One line per anomaly: split, feature, short and long description."""
  lines = []
  for feature, info in sorted(anomalies.anomaly_info.items()):
    lines.append(f"split '{split}', feature '{feature}': {info.short_description}"
                 f" ({info.description})")
  if anomalies.HasField("dataset_anomaly_info"):
    info = anomalies.dataset_anomaly_info
    lines.append(f"split '{split}', dataset: {info.short_description} ({info.description})")
  return lines


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    artifact = artifact_utils.get_single_instance(input_dict[ANOMALIES_KEY])
    problems = []
    for split in artifact_utils.decode_split_names(artifact.split_names):
      path = os.path.join(artifact_utils.get_split_uri([artifact], split), ANOMALIES_FILE)
      anomalies = anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(path))
      problems += describe(split, anomalies)
    if problems:
      where = exec_properties.get(DATA_DESCRIPTION_KEY) or "the input data"
      raise AnomaliesFoundError(
          f"ExampleValidator found {len(problems)} anomal{'y' if len(problems) == 1 else 'ies'} "
          f"in {where} against the curated schema; the run stops before Transform and "
          f"nothing is trained or pushed:\n  - " + "\n  - ".join(problems))
