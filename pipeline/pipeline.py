"""The TFX pipeline definition: which components, how they are wired, and the gate.

ExampleGen -> StatisticsGen -> ImportSchemaGen (curated schema) -> ExampleValidator
-> AnomaliesGate -> Transform -> Trainer -> Evaluator (vs. last blessed) -> Pusher.
"""
import dataclasses
from typing import Optional, Sequence

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import config_pb2
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import v1 as tfx
from tfx.utils import io_utils

from components.anomalies_gate.component import AnomaliesGate
from components.imdb_example_gen.component import ImdbExampleGen
from models import features
from pipeline import inputs
from pipeline.config import PipelineConfig

TRANSFORM_FN = "models.preprocessing.preprocessing_fn"
TRAINER_FN = "models.trainer.run_fn"
BASELINE_RESOLVER_ID = "latest_blessed_model_resolver"


def schema_class_names(schema_path: str, label_column: str) -> Optional[tuple[str, ...]]:
  """The label's string domain in the curated schema, if it declares one."""
  schema = io_utils.parse_pbtxt_file(schema_path, schema_pb2.Schema())
  for feature in schema.feature:
    if feature.name == label_column and feature.HasField("domain"):
      for domain in schema.string_domain:
        if domain.name == feature.domain:
          return tuple(domain.value)
  return None


def make_example_gen(config: PipelineConfig, data: inputs.ResolvedInput):
  """aclImdb folders: train/eval from aclImdb/train by hash, test from aclImdb/test.
  CSV: one pool split 80/10/10 by hash."""
  if data.format == inputs.CSV:
    return tfx.components.CsvExampleGen(
        input_base=data.input_base,
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name="train", hash_buckets=8),
            tfx.proto.SplitConfig.Split(name="eval", hash_buckets=1),
            tfx.proto.SplitConfig.Split(name="test", hash_buckets=1)])))
  return ImdbExampleGen(
      input_base=data.input_base,
      split_percent={"train": 100 - config.data.eval_percent, "eval": config.data.eval_percent},
      ignored_folders=config.data.ignored_folders)


def label_vocabulary(config: PipelineConfig, data: inputs.ResolvedInput) -> tuple[str, ...]:
  """The curated schema's label domain is the contract; else the classes in the data."""
  if config.schema_path:
    return schema_class_names(config.schema_path, config.data.label_column) or data.class_names
  return data.class_names


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
  """The Evaluator's gate and report, from GateConfig.

  Blesses only when accuracy and AUC clear their floors and lose at most the allowed
  drop against the last blessed model (thresholds judge the overall slice only; the first
  run has no baseline and is judged on the floors alone). Also computed, for the report
  and TFMA dashboards: precision, recall, calibration, example count, the confusion
  matrix at 0.5, ROC/PR and calibration plots; sliced overall, by review length and by label.
  """
  gate = config.gate

  def overall_threshold(floor: float, max_drop: float) -> list:
    # Scoped to the overall slice: a plain `threshold` would also judge every slice
    # (AUC is undefined on the one-class `label` slices).
    return [config_pb2.PerSliceMetricThreshold(
        slicing_specs=[tfma.SlicingSpec()],
        threshold=tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": floor}),
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_drop})))]

  return tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(
          signature_name=features.SERVING_EXAMPLES_SIGNATURE,
          label_key=features.LABEL_XF,
          preprocessing_function_names=[features.TRANSFORM_SIGNATURE])],
      slicing_specs=[tfma.SlicingSpec(),
                     tfma.SlicingSpec(feature_keys=[features.LENGTH_BUCKET_XF]),
                     tfma.SlicingSpec(feature_keys=[config.data.label_column])],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name="ExampleCount"),
          tfma.MetricConfig(class_name="BinaryAccuracy",
                            per_slice_thresholds=overall_threshold(gate.min_accuracy, gate.max_accuracy_drop)),
          tfma.MetricConfig(class_name="AUC",
                            per_slice_thresholds=overall_threshold(gate.min_auc, gate.max_auc_drop)),
          tfma.MetricConfig(class_name="AUCPrecisionRecall"),
          tfma.MetricConfig(class_name="Precision"),
          tfma.MetricConfig(class_name="Recall"),
          tfma.MetricConfig(class_name="MeanLabel"),
          tfma.MetricConfig(class_name="MeanPrediction"),
          tfma.MetricConfig(class_name="Calibration"),
          tfma.MetricConfig(class_name="ConfusionMatrixAtThresholds", config='"thresholds": [0.5]'),
          tfma.MetricConfig(class_name="ConfusionMatrixPlot"),
          tfma.MetricConfig(class_name="CalibrationPlot"),
      ])])


def create_pipeline(config: PipelineConfig, data: inputs.ResolvedInput,
                    beam_pipeline_args: Optional[Sequence[str]] = None,
                    metadata_connection_config=None) -> tfx.dsl.Pipeline:
  """Builds the pipeline for already-resolved data (see pipeline/run.py).

  `data.class_names` is the label vocabulary Transform maps to ids 0..n-1; with a
  curated schema it is the schema's label domain (see label_vocabulary).
  ML Metadata is the orchestrator's: local runs pass SQLite, Kubeflow its own.

  The Trainer resolves the embedding handle where it runs (a cached build of the
  registered module, a local path, or a hub download), so the same definition works
  on this machine and in a Kubeflow container.
  """
  example_gen = make_example_gen(config, data)
  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
  if config.schema_path:
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_path)
  else:
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                          infer_feature_shape=True)
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
  anomalies_gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"],
                                 data_description=data.description)

  transform = tfx.components.Transform(
      examples=example_gen.outputs["examples"],
      schema=schema_gen.outputs["schema"],
      preprocessing_fn=TRANSFORM_FN,
      splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
      custom_config={"text_key": config.data.text_column, "label_key": config.data.label_column,
                     "class_names": list(data.class_names)})
  transform.add_upstream_node(anomalies_gate)

  trainer = tfx.components.Trainer(
      run_fn=TRAINER_FN,
      examples=transform.outputs["transformed_examples"],
      transform_graph=transform.outputs["transform_graph"],
      schema=schema_gen.outputs["schema"],
      train_args=tfx.proto.TrainArgs(splits=["train"]),
      eval_args=tfx.proto.EvalArgs(splits=["eval"]),
      custom_config={"model": dataclasses.asdict(config.model), "label_key": config.data.label_column,
                     "class_names": list(data.class_names)})  # the classify signature's classes

  baseline = tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
      model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id(BASELINE_RESOLVER_ID)

  evaluator = tfx.components.Evaluator(
      examples=example_gen.outputs["examples"],
      model=trainer.outputs["model"],
      baseline_model=baseline.outputs["model"],
      example_splits=["test"],
      eval_config=eval_config(config))

  pusher = tfx.components.Pusher(
      model=trainer.outputs["model"],
      model_blessing=evaluator.outputs["blessing"],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_model_dir)))

  return tfx.dsl.Pipeline(
      pipeline_name=config.name,
      pipeline_root=config.pipeline_root,
      components=[example_gen, statistics_gen, schema_gen, example_validator, anomalies_gate,
                  transform, trainer, baseline, evaluator, pusher],
      enable_cache=False,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(beam_pipeline_args if beam_pipeline_args is not None else config.beam_args))
