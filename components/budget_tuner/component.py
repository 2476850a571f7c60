"""BudgetTuner: TFX's Tuner, with a log of every trial."""
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.budget_tuner import executor


class BudgetTuner(tfx.components.Tuner):
  """Same inputs, outputs and tuner_fn contract as TFX's Tuner (models/tuner.py is the
  tuner_fn the pipeline gives it); the executor also writes executor.TRIALS_FILE."""

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
