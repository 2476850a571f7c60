"""Resolver strategies the pipeline's wiring uses."""
from tfx.dsl.input_resolution.strategies.latest_artifact_strategy import LatestArtifactStrategy


class LatestIfAnyStrategy(LatestArtifactStrategy):
  """The latest artifact of each channel, or none where there is none yet.

  TFX's LatestArtifactStrategy reports an empty channel as an input resolution error
  (logged at ERROR on every run before the first one that produced the artifact); for an
  optional input such as the Trainer's hyperparameters, nothing yet is the normal case.
  """

  def resolve_artifacts(self, store, input_dict):
    return self._resolve(input_dict)
