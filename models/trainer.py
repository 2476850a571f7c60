"""TFX Trainer module: trains the classifier on Transform's output and exports it.

The exported SavedModel carries these signatures (n = the task's label count):
  serving_default     serialized tf.Example -> {"probabilities": [batch, 1] for binary
                      (P(labels[1])), else [batch, n]; multi-label also "decisions"}
                      (TFMA, TF Serving Predict on examples)
  serving_text        raw strings -> {"probabilities": [batch, n] (binary too: one column
                      per label), "labels": [batch, n] names; multi-label also
                      "decisions" and "thresholds"}  (a REST/gRPC client sending text)
  classify            serialized tf.Example -> {"classes": [batch, n], "scores": [batch, n]}
                      (TF Serving's Classify API: input "inputs", outputs "classes"/"scores")
  transform_features  serialized tf.Example -> transformed features, label included
                      (TFMA's preprocessing function, to read the encoded label)
Beside it, assets.extra/task.json records the task (kind, labels) the model was trained for.
"""
import dataclasses
import json
import os

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  registers the tokenizer ops the embedding uses
import tensorflow_transform as tft
import tf_keras as keras
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx_bsl.public import tfxio

from models import features
from models import model as model_lib
from models import nb_ratio
from models import preprocessing
from models import task as task_lib
from models import thresholds as thresholds_lib
from models.embeddings import handles

MODEL_CONFIG_KEY = "model"                        # custom_config: ModelConfig as a dict
TASK_CONFIG_KEY = preprocessing.TASK_CONFIG_KEY   # custom_config: the Task as JSON
# Examples held for shuffling the train split. ExampleGen keeps the source's order, and a
# source may be sorted by label (aclImdb: 11k negative reviews, then 11k positive); with
# tfxio's default of 10,000 the first batches of every epoch were nearly all negative.
# 100,000 covers IMDB, TREC and GoEmotions whole (about 130 MB of IMDB-length texts).
SHUFFLE_BUFFER = 100_000


def _label_shape(task: task_lib.Task) -> list:
  return {task_lib.BINARY: [-1, 1], task_lib.MULTI_CLASS: [-1], task_lib.MULTI_LABEL: [-1, task.outputs]}[task.kind]


def _dataset(fn_args, file_pattern, tf_transform_output, batch_size, shuffle, task):
  dtype = tf.int64 if task.kind == task_lib.MULTI_CLASS else tf.float32
  return fn_args.data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(
          batch_size=batch_size, label_key=features.LABEL_XF, num_epochs=1, shuffle=shuffle,
          shuffle_buffer_size=SHUFFLE_BUFFER, shuffle_seed=0),
      tf_transform_output.transformed_metadata.schema,
  ).map(lambda x, y: (tf.reshape(x[features.TEXT_XF], [-1]),
                      tf.reshape(tf.cast(y, dtype), _label_shape(task))))


def _signatures(model, tf_transform_output, task: task_lib.Task, thresholds: np.ndarray):
  raw_spec = tf_transform_output.raw_feature_spec()
  serving_spec = {k: v for k, v in raw_spec.items() if k != features.DEFAULT_LABEL_KEY}
  model.tft_layer = tf_transform_output.transform_features_layer()
  label_names = tf.constant(list(task.labels))
  threshold_values = tf.constant(thresholds, tf.float32)

  def per_label(probabilities):
    """[batch, n] probabilities, one column per label (binary: [1-p, p])."""
    if task.kind == task_lib.BINARY:
      return tf.concat([1.0 - probabilities, probabilities], axis=1)
    return probabilities

  def outputs(probabilities, per_label_columns: bool):
    result = {features.PROBABILITY_OUTPUT: per_label(probabilities) if per_label_columns else probabilities}
    if task.kind == task_lib.MULTI_LABEL:
      result[features.DECISIONS_OUTPUT] = tf.cast(probabilities >= threshold_values, tf.float32)
    return result

  def text_of(examples):
    transformed = model.tft_layer(tf.io.parse_example(examples, serving_spec))
    return tf.reshape(transformed[features.TEXT_XF], [-1])

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.EXAMPLES_INPUT)])
  def serve_examples(examples):
    return outputs(model_lib.probabilities(model(text_of(examples)), task), per_label_columns=False)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.TEXT_INPUT)])
  def serve_text(text):
    result = outputs(model_lib.probabilities(model(preprocessing.clean_text(text)), task), per_label_columns=True)
    rows = tf.shape(text)[0]
    result[features.LABELS_OUTPUT] = tf.tile(label_names[tf.newaxis], [rows, 1])
    if task.kind == task_lib.MULTI_LABEL:
      result[features.THRESHOLDS_OUTPUT] = tf.tile(threshold_values[tf.newaxis], [rows, 1])
    return result

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.CLASSIFY_INPUT)])
  def classify(inputs):
    scores = per_label(model_lib.probabilities(model(text_of(inputs)), task))
    classes = tf.tile(label_names[tf.newaxis], [tf.shape(scores)[0], 1])
    return {features.CLASSES_OUTPUT: classes, features.SCORES_OUTPUT: scores}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.EXAMPLES_INPUT)])
  def transform_features(examples):
    return model.tft_layer(tf.io.parse_example(examples, raw_spec))

  return {
      features.SERVING_EXAMPLES_SIGNATURE: serve_examples,
      features.SERVING_TEXT_SIGNATURE: serve_text,
      features.TRANSFORM_SIGNATURE: transform_features,
      features.CLASSIFY_SIGNATURE: classify,
  }


def _decision_thresholds(model, evaluation, task: task_lib.Task) -> np.ndarray:
  """Multi-label: per-label thresholds that maximise F1 on the eval split; else 0.5s."""
  if task.kind != task_lib.MULTI_LABEL:
    return np.full([task.outputs], thresholds_lib.DEFAULT, np.float32)
  chosen = thresholds_lib.choose(*eval_predictions(model, evaluation, task))
  print("[trainer] decision thresholds chosen on eval: "
        + ", ".join(f"{name} {t:.2f}" for name, t in zip(task.labels, chosen)), flush=True)
  return chosen


def datasets(fn_args, tf_transform_output, config: model_lib.ModelConfig, task: task_lib.Task):
  """(train, eval) batches of (text, label): the train split shuffled, the eval split in order.

  The shuffle's order is drawn from TF's global seed as it stands when the dataset is made,
  so it is set here: else the first training in a process (global seed unset) and every
  later one (seed left by the one before: a tuning trial, an earlier run) saw the train
  split in different orders, and the same settings trained different models."""
  keras.utils.set_random_seed(config.seed)
  return (_dataset(fn_args, fn_args.train_files, tf_transform_output, config.batch_size, True, task),
          _dataset(fn_args, fn_args.eval_files, tf_transform_output, config.batch_size, False, task))


def fit(config: model_lib.ModelConfig, task: task_lib.Task, train, evaluation, log_dir=None) -> keras.Model:
  """Trains the classifier on the train split; the eval split picks the epoch. The Trainer
  and every tuning trial (models/tuner.py) train through here, so a trial's score is the
  score of the model the Trainer would make with the same settings."""
  embedding_paths = handles.resolve_all(config.embedding_handle)
  callbacks = [
      # The eval split (never the test split) picks the epoch: fine-tuned embeddings
      # overfit IMDB after one or two passes.
      keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)]
  if log_dir:
    callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
  if config.trainable:
    model = model_lib.build_classifier(config, embedding_paths, task)
    for layer in model.layers:
      if isinstance(layer, hub.KerasLayer):  # modules with Naive-Bayes ratios get them from train
        nb_ratio.set_from_train_split(layer.resolved_object, train, task)
    model.fit(train, validation_data=evaluation, epochs=config.epochs, verbose=2, callbacks=callbacks)
    return model
  # Frozen: embed every example once, train the head on the cached vectors.
  keras.utils.set_random_seed(config.seed)
  layers = model_lib.embedding_layers(config, embedding_paths)
  embed = lambda text: tf.concat([layer(text) for layer in layers], axis=-1)  # noqa: E731
  cached = lambda ds, shuffle: model_lib.cache_embeddings(  # noqa: E731
      ds, embed, 10_000 if shuffle else 0, config.seed, config.batch_size)
  head = model_lib.compile_for_training(
      model_lib.build_head(config, embed(tf.constant([""])).shape[-1], task), config, task)
  head.fit(cached(train, True), validation_data=cached(evaluation, False), epochs=config.epochs, verbose=2,
           callbacks=callbacks)
  return model_lib.build_classifier(config, embedding_paths, task, head=head)


def eval_predictions(model, evaluation, task: task_lib.Task) -> tuple[np.ndarray, np.ndarray]:
  """(labels, probabilities) of the eval split, as the served model computes them."""
  labels, probabilities = [], []
  for text, label in evaluation:
    labels.append(label.numpy())
    probabilities.append(model_lib.probabilities(model(text, training=False), task).numpy())
  return np.concatenate(labels), np.concatenate(probabilities)


def run_fn(fn_args: FnArgs) -> None:
  """TFX Trainer entry point. Settings: the pipeline's ModelConfig, overridden by the
  Tuner's best hyperparameters where the Trainer received them (this run's Tuner, or the
  last one of this pipeline: pipeline/pipeline.py)."""
  custom = fn_args.custom_config or {}
  config = model_lib.ModelConfig.from_dict(custom.get(MODEL_CONFIG_KEY, {}))
  task = task_lib.Task.from_json(custom[TASK_CONFIG_KEY])
  if fn_args.hyperparameters:
    config = tuned_config(config, fn_args.hyperparameters)
  config = dataclasses.replace(config, hidden_units=model_lib.hidden_units(config, task))  # recorded as used
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  train, evaluation = datasets(fn_args, tf_transform_output, config, task)
  model = fit(config, task, train, evaluation, log_dir=fn_args.model_run_dir)
  thresholds = _decision_thresholds(model, evaluation, task)
  model.save(fn_args.serving_model_dir, save_format="tf", include_optimizer=False,  # no Adam slots in serving
             signatures=_signatures(model, tf_transform_output, task, thresholds))
  for name, text in ((features.TASK_FILE, task.to_json()),
                     (features.MODEL_CONFIG_FILE, json.dumps(dataclasses.asdict(config), sort_keys=True)),
                     (features.THRESHOLDS_FILE, json.dumps(dict(zip(task.labels, map(float, thresholds)))))):
    path = os.path.join(fn_args.serving_model_dir, name)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
      f.write(text)


def tuned_config(config: model_lib.ModelConfig, hyperparameters: dict) -> model_lib.ModelConfig:
  """The ModelConfig with the Tuner's values (a keras-tuner HyperParameters config) in
  place of the pipeline's, except the fields the user set on the command line."""
  values = hyperparameters.get("values", hyperparameters)
  chosen = {k: v for k, v in values.items() if k not in config.fixed}
  print("[trainer] hyperparameters from the Tuner: " + ", ".join(f"{k}={v}" for k, v in sorted(chosen.items())),
        flush=True)
  return dataclasses.replace(config, **{k: v for k, v in chosen.items()
                                        if k in {f.name for f in dataclasses.fields(config)}})
