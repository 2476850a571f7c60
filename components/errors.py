"""Errors that stop a run on bad input; their messages name the problem and the place."""


class InputDataError(ValueError):
  """Input data is missing, malformed or does not match the expected layout."""


class AnomaliesFoundError(RuntimeError):
  """ExampleValidator found anomalies against the curated schema; nothing is trained."""
