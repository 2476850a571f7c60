"""The TFX pipeline definition: which components and how they are wired. No I/O here.

TextExampleGen -> StatisticsGen -> SchemaGen or CuratedSchemaGen -> ExampleValidator
-> AnomaliesGate -> Transform -> [Tuner] -> Trainer -> Evaluator (vs. last blessed)
-> [InfraValidator] -> BulkInferrer (test split) -> ModelCardGenerator -> StagedPusher.
With --tune the Tuner searches the model settings and the Trainer takes its best
hyperparameters; without it the Trainer takes the pipeline's last tuning result, if any.
The data's layout (pipeline/inputs.Dataset) and the task (models/task.Task) arrive
decided, as data, so `tfx pipeline create` and the Kubeflow compile read no data.
"""
import dataclasses
from typing import Optional, Sequence

import tensorflow_data_validation as tfdv
from tfx.components import (BulkInferrer, ExampleValidator, InfraValidator, SchemaGen, StatisticsGen, Trainer,
                            Transform)
from tfx.dsl.components.common import importer
from tfx.dsl.components.common import resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import bulk_inferrer_pb2, example_gen_pb2, infra_validator_pb2, pusher_pb2, trainer_pb2, transform_pb2
from tfx.types import channel
from tfx.types import standard_artifacts

from components.anomalies_gate.component import AnomaliesGate
from components.budget_tuner.component import BudgetTuner
from components.curated_schema_gen.component import CuratedSchemaGen
from components.fitted_gate_evaluator.component import FittedGateEvaluator
from components.local_infra_validator.component import LocalInfraValidator
from components.model_card_generator.component import ModelCardGenerator
from components.staged_pusher.component import StagedPusher
from components.text_example_gen.component import TextExampleGen
from models import features
from models import task as task_lib
from models import trainer as trainer_module
from models import tuner as tuner_module
from models import preprocessing
from pipeline import evaluation
from pipeline import resolvers
from pipeline.config import IN_PROCESS_BEAM_ARGS, LOCAL_SERVER, TF_SERVING, PipelineConfig
from pipeline.inputs import EVAL, TEST, TRAIN, Dataset

TRANSFORM_FN = "models.preprocessing.preprocessing_fn"
TRAINER_FN = "models.trainer.run_fn"
TUNER_FN = "models.tuner.tuner_fn"
TUNER_ID = "Tuner"
EVALUATOR_ID = "Evaluator"
INFRA_VALIDATOR_ID = "InfraValidator"
TEST_INFERRER_ID = "TestSplitInferrer"
MODEL_CARD_ID = "ModelCardGenerator"
TF_SERVING_TAG = "2.19.1"   # the tensorflow/serving image TFX's InfraValidator runs (serving/deploy)
INFRA_EXAMPLES = 16         # test examples sent through every signature
HYPERPARAMETERS_RESOLVER_ID = "latest_hyperparameters_resolver"
HYPERPARAMETERS_IMPORTER_ID = "hyperparameters_importer"
BASELINE_RESOLVER_ID = "latest_blessed_model_resolver"
BASELINE_IMPORTER_ID = "baseline_model_importer"
# What the Evaluator compares against (create_pipeline's `baseline`): the latest blessed
# model of this pipeline (a resolver node), none, or any other value: a Model artifact URI
# (an importer node), for backends without resolver nodes (kubeflow/README.md).
LATEST_BLESSED = "latest-blessed"
NO_BASELINE = "none"
# What the Trainer takes when this run does not tune (create_pipeline's `hyperparameters`):
# the pipeline's latest Tuner result (a resolver node; nothing before the first --tune),
# none, or any other value: a HyperParameters artifact URI (an importer node).
LATEST_TUNED = "latest-tuned"
NO_HYPERPARAMETERS = "none"


def _split(name: str, buckets: int) -> example_gen_pb2.SplitConfig.Split:
  return example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)


def make_infra_validator(kind: str, model, examples):
  """The node whose InfraBlessing the Pusher requires, or None (--infra-validator none).

  tf-serving is TFX's own InfraValidator: TF Serving's image in a local container engine,
  found through the docker client's environment (DOCKER_HOST; for podman, its Docker API
  socket: `podman system service`), as TFX's LocalDockerRunner does."""
  if kind == LOCAL_SERVER:
    return LocalInfraValidator(model=model, examples=examples, num_examples=INFRA_EXAMPLES,
                               split=TEST).with_id(INFRA_VALIDATOR_ID)
  if kind == TF_SERVING:
    return InfraValidator(
        model=model, examples=examples,
        serving_spec=infra_validator_pb2.ServingSpec(
            tensorflow_serving=infra_validator_pb2.TensorFlowServing(tags=[TF_SERVING_TAG]),
            local_docker=infra_validator_pb2.LocalDockerConfig()),
        validation_spec=infra_validator_pb2.ValidationSpec(max_loading_time_seconds=300, num_tries=2),
        request_spec=infra_validator_pb2.RequestSpec(
            tensorflow_serving=infra_validator_pb2.TensorFlowServingRequestSpec(
                signature_names=[features.SERVING_EXAMPLES_SIGNATURE]),
            split_name=TEST, num_examples=INFRA_EXAMPLES)).with_id(INFRA_VALIDATOR_ID)
  return None


def make_statistics_gen(examples: channel.BaseChannel) -> StatisticsGen:
  """StatisticsGen in bounded memory: TFDV's sketches (Misra-Gries, KMV) for top values and uniques.

  TFDV's exact top-k and unique counts group every distinct value of a feature (every
  text) in one shuffle, which the DirectRunner holds in memory: StatisticsGen alone peaked
  at 3.25 GiB on 400k IMDB-length texts, and at 1.11 GiB with the sketches (21 s against
  47). Below a sketch's size (1,024 values for top-k, 16,384 for uniques) its counts are
  exact, so a label's values and small data come out as before. Transform already
  computes its statistics this way.
  """
  return StatisticsGen(examples=examples, stats_options=tfdv.StatsOptions(use_sketch_based_topk_uniques=True))


def make_example_gen(config: PipelineConfig, dataset: Dataset, task: task_lib.Task) -> TextExampleGen:
  """Honours the splits the data has; carves the missing ones by hash of the text:
  one pool -> train/eval/test (8/1/1); train + test -> eval from train (1 in 10);
  train + eval -> test from train (1 in 10)."""
  input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name=split, pattern=pattern)
                                         for split, pattern in dataset.patterns])
  output_config, holdout = None, None
  partition = features.DEFAULT_TEXT_KEY
  if dataset.splits == (TRAIN,):
    train, eval_, test = config.data.pool_buckets
    output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
        splits=[_split(TRAIN, train), _split(EVAL, eval_), _split(TEST, test)], partition_feature_name=partition))
  elif set(dataset.splits) != {TRAIN, EVAL, TEST}:
    missing = EVAL if EVAL not in dataset.splits else TEST
    holdout = example_gen_pb2.SplitConfig(splits=[_split(TRAIN, config.data.holdout_buckets - 1), _split(missing, 1)],
                                    partition_feature_name=partition)
  return TextExampleGen(input_base=dataset.input_base, task=task, input_config=input_config,
                        output_config=output_config, holdout=holdout, ignored_folders=dataset.ignored_folders,
                        sources_sha256=config.sources_sha256)


def _earlier_artifact(source: str, latest: str, make_resolver, output_key: str, artifact_type, importer_id: str):
  """The node that yields an artifact of an earlier run, and its output channel: none
  (NO_BASELINE / NO_HYPERPARAMETERS), the resolver make_resolver() builds (`latest`),
  or an importer of the artifact URI `source` (for backends without resolver nodes)."""
  if source in (NO_BASELINE, NO_HYPERPARAMETERS):
    return None, None
  if source == latest:
    node = make_resolver()
    return node, node.outputs[output_key]
  node = importer.Importer(source_uri=source, artifact_type=artifact_type, reimport=False).with_id(importer_id)
  return node, node.outputs[importer.IMPORT_RESULT_KEY]


def _baseline(baseline: str):
  """The Evaluator's baseline model: the latest blessed one, none, or a given Model URI."""
  return _earlier_artifact(baseline, LATEST_BLESSED, lambda: resolver.Resolver(
      strategy_class=LatestBlessedModelStrategy,
      model=channel.Channel(type=standard_artifacts.Model),
      model_blessing=channel.Channel(type=standard_artifacts.ModelBlessing),
  ).with_id(BASELINE_RESOLVER_ID), "model", standard_artifacts.Model, BASELINE_IMPORTER_ID)


def _reused_hyperparameters(hyperparameters: str):
  """The Trainer's hyperparameters when this run does not tune: the pipeline's latest
  Tuner result (none before the first), none, or a given HyperParameters URI."""
  return _earlier_artifact(hyperparameters, LATEST_TUNED, lambda: resolver.Resolver(
      strategy_class=resolvers.LatestIfAnyStrategy,
      hyperparameters=channel.Channel(type=standard_artifacts.HyperParameters),
  ).with_id(HYPERPARAMETERS_RESOLVER_ID), "hyperparameters", standard_artifacts.HyperParameters,
      HYPERPARAMETERS_IMPORTER_ID)


def _model_card(config: PipelineConfig, task: task_lib.Task, example_gen, statistics_gen, trainer, evaluator,
                infra_blessing) -> list:
  """BulkInferrer on the test split (the candidate's predictions, whatever the verdict),
  then the ModelCardGenerator that reads them for its error analysis."""
  test_inferrer = BulkInferrer(
      examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
      data_spec=bulk_inferrer_pb2.DataSpec(example_splits=[TEST]),
      model_spec=bulk_inferrer_pb2.ModelSpec(model_signature_name=[features.SERVING_EXAMPLES_SIGNATURE]),
  ).with_id(TEST_INFERRER_ID)
  model_card = ModelCardGenerator(
      model=trainer.outputs["model"], statistics=statistics_gen.outputs["statistics"],
      evaluation=evaluator.outputs["evaluation"], blessing=evaluator.outputs["blessing"],
      inference_result=test_inferrer.outputs["inference_result"], infra_blessing=infra_blessing,
      task_json=task.to_json(), pipeline_name=config.name, intended_use=config.intended_use,
  ).with_id(MODEL_CARD_ID)
  return [test_inferrer, model_card]


def create_pipeline(config: PipelineConfig, dataset: Dataset, task: task_lib.Task,
                    beam_pipeline_args: Optional[Sequence[str]] = None,
                    metadata_connection_config=None, baseline: str = LATEST_BLESSED,
                    hyperparameters: str = LATEST_TUNED) -> tfx_pipeline.Pipeline:
  """Wires the components for one data set and task (config.name names the pipeline).

  ML Metadata is the orchestrator's: local runs pass SQLite, Kubeflow its own. The
  Trainer resolves the embedding handle where it runs (a cached build of the registered
  module, a local path, or a hub download), so the same definition works on this
  machine and in a Kubeflow container. config.model goes to the Trainer as given: the
  callers have already decided it for the task (ModelConfig.for_task).
  """
  example_gen = make_example_gen(config, dataset, task)
  statistics_gen = make_statistics_gen(example_gen.outputs["examples"])
  schema = config.curated_schema
  if schema:
    schema_gen = CuratedSchemaGen(schema_file=schema, sources_sha256=config.sources_sha256)
  else:
    schema_gen = SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                          infer_feature_shape=task.kind != task_lib.MULTI_LABEL)
  example_validator = ExampleValidator(
      statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
  anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"],
                                 data_description=dataset.description)

  transform = Transform(
      examples=example_gen.outputs["examples"],
      schema=schema_gen.outputs["schema"],
      preprocessing_fn=TRANSFORM_FN,
      splits_config=transform_pb2.SplitsConfig(analyze=[TRAIN], transform=[TRAIN, EVAL]),
      custom_config={preprocessing.TASK_CONFIG_KEY: task.to_json()},
      # Transform's own pre- and post-transform statistics are off: the pre-transform ones
      # repeat StatisticsGen's on the same train split, the transformed features are the
      # cleaned text, the label id and a length bucket, and nothing reads them. Measured on
      # the 1M-row set, Transform's Do() alone: 6.51 GiB and 295 s with them, 1.16 GiB
      # and 264 s without (benchmarks/scale_results.md).
      disable_statistics=True)
  transform.add_upstream_node(anomalies_gate)

  # What the Trainer and every tuning trial train on: the train and eval splits only
  # (Transform writes no test split).
  training_inputs = dict(examples=transform.outputs["transformed_examples"],
                         transform_graph=transform.outputs["transform_graph"], schema=schema_gen.outputs["schema"],
                         train_args=trainer_pb2.TrainArgs(splits=[TRAIN]), eval_args=trainer_pb2.EvalArgs(splits=[EVAL]))
  model_settings = {trainer_module.MODEL_CONFIG_KEY: dataclasses.asdict(config.model),
                    trainer_module.TASK_CONFIG_KEY: task.to_json()}
  if config.tune.enabled:
    tuning_node = BudgetTuner(
        tuner_fn=TUNER_FN, **training_inputs,
        custom_config={**model_settings, tuner_module.TUNE_CONFIG_KEY: dataclasses.asdict(config.tune)},
    ).with_id(TUNER_ID)
    best_hyperparameters = tuning_node.outputs["best_hyperparameters"]
  else:
    tuning_node, best_hyperparameters = _reused_hyperparameters(hyperparameters)

  trainer = Trainer(run_fn=TRAINER_FN, **training_inputs, hyperparameters=best_hyperparameters,
                                   custom_config=model_settings)

  baseline_node, baseline_model = _baseline(baseline)
  evaluator = FittedGateEvaluator(
      examples=example_gen.outputs["examples"],
      model=trainer.outputs["model"],
      baseline_model=baseline_model,
      example_splits=[TEST],
      eval_config=evaluation.eval_config(config.gate, task)).with_id(EVALUATOR_ID)

  infra_validator = make_infra_validator(config.infra_validator, trainer.outputs["model"],
                                         example_gen.outputs["examples"])
  infra_blessing = infra_validator.outputs["blessing"] if infra_validator else None
  card_nodes = (_model_card(config, task, example_gen, statistics_gen, trainer, evaluator, infra_blessing)
                if config.model_card else [])
  pusher = StagedPusher(
      model=trainer.outputs["model"],
      model_blessing=evaluator.outputs["blessing"],
      infra_blessing=infra_blessing,
      model_card=card_nodes[-1].outputs["model_card"] if card_nodes else None,
      push_destination=pusher_pb2.PushDestination(
          filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=config.serving_model_dir)),
  ).with_id("Pusher")

  return tfx_pipeline.Pipeline(
      pipeline_name=config.name,
      pipeline_root=config.pipeline_root,
      components=[example_gen, statistics_gen, schema_gen, example_validator, anomalies_gate,
                  transform, *([tuning_node] if tuning_node else []), trainer,
                  *([baseline_node] if baseline_node else []), evaluator,
                  *([infra_validator] if infra_validator else []), *card_nodes, pusher],
      enable_cache=config.resume,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=config.beam_pipeline_args(beam_pipeline_args or IN_PROCESS_BEAM_ARGS))
