"""ModelCardGenerator's executor: error analysis from BulkInferrer's predictions, then
the card rendered from the run's artifacts (pipeline/report/model_card.py)."""
import json
import os
from typing import Any

from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils
from tfx.utils import path_utils

from components.local_infra_validator import executor as infra_validator
from components.model_card_generator import artifact
from components.model_card_generator import error_analysis
from models import predictions
from models import task as task_lib
from pipeline import summary as summary_lib
from pipeline.report import model_card, rendering

TASK_KEY = "task"
PIPELINE_NAME_KEY = "pipeline_name"
INTENDED_USE_KEY = "intended_use"             # Markdown the user wrote (--intended-use FILE), or ""
EXAMPLES_PER_CLASS_KEY = "examples_per_class"
MODEL_KEY = "model"
STATISTICS_KEY = "statistics"
EVALUATION_KEY = "evaluation"
BLESSING_KEY = "blessing"
INFERENCE_KEY = "inference_result"
INFRA_BLESSING_KEY = "infra_blessing"
MODEL_CARD_KEY = "model_card"
EXAMPLES_PER_CLASS = 5


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict: dict[str, list], output_dict: dict[str, list], exec_properties: dict[str, Any]) -> None:
    task = task_lib.Task.from_json(exec_properties[TASK_KEY])
    single = {key: artifact_utils.get_single_instance(input_dict[key]) for key in
              (MODEL_KEY, STATISTICS_KEY, EVALUATION_KEY, BLESSING_KEY, INFERENCE_KEY)}
    infra = input_dict.get(INFRA_BLESSING_KEY) or []
    out = artifact_utils.get_single_instance(output_dict[MODEL_CARD_KEY])

    errors = error_analysis.most_confident_mistakes(
        predictions.read(single[INFERENCE_KEY].uri, task), task,
        exec_properties.get(EXAMPLES_PER_CLASS_KEY) or EXAMPLES_PER_CLASS,
        predictions.thresholds(path_utils.serving_model_path(single[MODEL_KEY].uri)))
    blessed = single[BLESSING_KEY].get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1
    infra_validation = (summary_lib.infra_report(
        infra[0].uri, infra[0].get_int_custom_property(infra_validator.BLESSED_PROPERTY) == 1) if infra else {})
    result = summary_lib.from_evaluation(
        single[EVALUATION_KEY].uri, task, blessed, pushed_to=None, pipeline_name=exec_properties[PIPELINE_NAME_KEY],
        model=summary_lib.model_settings(single[MODEL_KEY].uri),
        infra_validation=infra_validation)
    lineage = {"model": single[MODEL_KEY].uri, "evaluation": single[EVALUATION_KEY].uri,
               "statistics": single[STATISTICS_KEY].uri, "predictions on the test split": single[INFERENCE_KEY].uri}
    context = model_card.context(exec_properties[PIPELINE_NAME_KEY], result, single[STATISTICS_KEY].uri, errors,
                                 lineage, exec_properties.get(INTENDED_USE_KEY) or "")
    io_utils.write_string_file(os.path.join(out.uri, artifact.ERRORS_FILE), json.dumps(errors, indent=1))
    io_utils.write_string_file(os.path.join(out.uri, artifact.MARKDOWN_FILE), rendering.card_markdown(context))
    io_utils.write_string_file(os.path.join(out.uri, artifact.HTML_FILE), rendering.card_html(context))
