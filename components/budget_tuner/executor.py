"""Runs TFX's Tuner search, then records every trial beside TFX's own results.

TFX's tuner_results.json keeps each completed trial's score and values only. The run's
table and report also show each trial's seconds, the candidates the budget skipped and
why the search stopped: the tuner's trial_log() (models/tuner.py), written as
TRIALS_FILE into the same TunerResults artifact.
"""
import json
import os

from tfx.components.tuner import executor as tuner_executor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils

TRIALS_FILE = "trials.json"


class Executor(tuner_executor.Executor):

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    tuner = tuner_executor.search(input_dict, exec_properties, self._get_tmp_dir(), print_tuning_summary=False)
    tuner_executor.write_best_hyperparameters(tuner, output_dict)
    results_dir = artifact_utils.get_single_uri(output_dict[standard_component_specs.TUNER_RESULTS_KEY])
    log = tuner.trial_log() if hasattr(tuner, "trial_log") else {}
    io_utils.write_string_file(os.path.join(results_dir, TRIALS_FILE), json.dumps(log, indent=1, sort_keys=True))
