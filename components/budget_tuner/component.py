"""BudgetTuner: TFX's Tuner, with a log of every trial."""
from tfx.components.tuner.component import Tuner
from tfx.dsl.components.base import executor_spec

from components.budget_tuner import executor


class BudgetTuner(Tuner):
  """Same inputs, outputs and tuner_fn contract as TFX's Tuner (models/tuner.py is the
  tuner_fn the pipeline gives it); the executor also writes executor.TRIALS_FILE."""

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
