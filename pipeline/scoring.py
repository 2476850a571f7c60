"""The scoring pipeline: new texts through the pipeline's last blessed model. Wiring only.

TextExampleGen (the same reader as training, one split, each row's origin kept) ->
Importer (the blessed Model artifact) -> BulkInferrer (TF Serving PredictionLogs)
[-> Evaluator, when the texts carry labels: TFMA's metrics, no gate].
"""
from typing import Optional, Sequence

from tfx.components import BulkInferrer, Evaluator
from tfx.dsl.components.common.importer import Importer
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import bulk_inferrer_pb2, example_gen_pb2
from tfx.types import standard_artifacts

from components.text_example_gen.component import TextExampleGen
from models import features
from models import task as task_lib
from pipeline import evaluation
from pipeline.config import GateConfig

SCORE = "score"                 # the one split of the data to score
MODEL_IMPORTER_ID = "blessed_model_importer"
INFERRER_ID = "BulkInferrer"
EVALUATOR_ID = "Evaluator"
# Metrics only: floors no model fails and no baseline, so nothing is gated here.
METRICS_ONLY = GateConfig(min_accuracy=0.0, min_auc=0.0, max_accuracy_drop=1.0, max_auc_drop=1.0)


def create_scoring_pipeline(name: str, pipeline_root: str, input_base: str, pattern: str, task: task_lib.Task,
                            model_uri: str, metadata_connection_config=None,
                            beam_pipeline_args: Optional[Sequence[str]] = None) -> tfx_pipeline.Pipeline:
  """`task` is the model's, with the data's columns; label_column "" for unlabelled texts."""
  example_gen = TextExampleGen(input_base=input_base, task=task, row_ids=True,
                               input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name=SCORE,
                                                                                          pattern=pattern)]))
  model = Importer(source_uri=model_uri, artifact_type=standard_artifacts.Model,
                           reimport=False).with_id(MODEL_IMPORTER_ID)
  inferrer = BulkInferrer(
      examples=example_gen.outputs["examples"], model=model.outputs["result"],
      data_spec=bulk_inferrer_pb2.DataSpec(example_splits=[SCORE]),
      model_spec=bulk_inferrer_pb2.ModelSpec(model_signature_name=[features.SERVING_EXAMPLES_SIGNATURE]),
  ).with_id(INFERRER_ID)
  components = [example_gen, model, inferrer]
  if task.label_column:
    config = evaluation.eval_config(METRICS_ONLY, task)
    components.append(Evaluator(
        examples=example_gen.outputs["examples"], model=model.outputs["result"], example_splits=[SCORE],
        eval_config=config).with_id(EVALUATOR_ID))
  return tfx_pipeline.Pipeline(pipeline_name=name, pipeline_root=pipeline_root, components=components,
                          enable_cache=False, metadata_connection_config=metadata_connection_config,
                          beam_pipeline_args=list(beam_pipeline_args or ()))
