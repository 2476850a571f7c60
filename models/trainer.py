"""TFX Trainer module: trains the classifier on Transform's output and exports it.

The exported SavedModel carries three signatures:
  serving_default     serialized tf.Example -> {"probabilities": [batch, 1]}
                      (TFMA, TF Serving Classify/Predict on examples)
  serving_text        raw strings -> {"probabilities": [batch, 1]}
                      (a REST/gRPC Predict client sending text)
  transform_features  serialized tf.Example -> transformed features, label included
                      (TFMA's preprocessing function, to read the integer label)
  classify            serialized tf.Example -> {"classes": [batch, 2], "scores": [batch, 2]}
                      (TF Serving's Classify API: input "inputs", outputs "classes"/"scores")
"""
import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the tokenizer ops the embedding uses
import tensorflow_transform as tft
import tf_keras as keras
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from models import features
from models import model as model_lib
from models import preprocessing
from models.embeddings import handles


def _dataset(fn_args, file_pattern, tf_transform_output, batch_size, shuffle):
  return fn_args.data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(
          batch_size=batch_size, label_key=features.LABEL_XF, num_epochs=1, shuffle=shuffle,
          shuffle_seed=0),
      tf_transform_output.transformed_metadata.schema,
  ).map(lambda x, y: (tf.reshape(x[features.TEXT_XF], [-1]), tf.reshape(y, [-1, 1])))


def _signatures(model, tf_transform_output, label_key, class_names):
  raw_spec = tf_transform_output.raw_feature_spec()
  serving_spec = {k: v for k, v in raw_spec.items() if k != label_key}
  model.tft_layer = tf_transform_output.transform_features_layer()

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.EXAMPLES_INPUT)])
  def serve_examples(examples):
    transformed = model.tft_layer(tf.io.parse_example(examples, serving_spec))
    text = tf.reshape(transformed[features.TEXT_XF], [-1])
    return {features.PROBABILITY_OUTPUT: tf.sigmoid(model(text))}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.TEXT_INPUT)])
  def serve_text(text):
    return {features.PROBABILITY_OUTPUT: tf.sigmoid(model(preprocessing.clean_text(text)))}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.CLASSIFY_INPUT)])
  def classify(inputs):
    positive = serve_examples(inputs)[features.PROBABILITY_OUTPUT]  # P(class_names[1])
    scores = tf.concat([1.0 - positive, positive], axis=1)
    classes = tf.tile(tf.constant([list(class_names)]), [tf.shape(scores)[0], 1])
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


def run_fn(fn_args: tfx.components.FnArgs) -> None:
  """TFX Trainer entry point."""
  custom = fn_args.custom_config or {}
  config = model_lib.ModelConfig.from_dict(custom.get("model", {}))
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  train = _dataset(fn_args, fn_args.train_files, tf_transform_output, config.batch_size, True)
  evaluation = _dataset(fn_args, fn_args.eval_files, tf_transform_output, config.batch_size, False)

  embedding_path = handles.resolve(config.embedding_handle)
  callbacks = [
      keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"),
      # The eval split (never the test split) picks the epoch: fine-tuned embeddings
      # overfit IMDB after one or two passes.
      keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)]
  if config.trainable:
    model = model_lib.build_classifier(config, embedding_path)
    model.fit(train, validation_data=evaluation, epochs=config.epochs, verbose=2, callbacks=callbacks)
  else:
    # Frozen: embed every example once, train the head on the cached vectors.
    keras.utils.set_random_seed(config.seed)
    embed = model_lib.embedding_layer(config, embedding_path)
    cached = lambda ds, shuffle: model_lib.cache_embeddings(  # noqa: E731
        ds, embed, 10_000 if shuffle else 0, config.seed, config.batch_size)
    head = model_lib.compile_for_training(model_lib.build_head(config, embed(tf.constant([""])).shape[-1]), config)
    head.fit(cached(train, True), validation_data=cached(evaluation, False), epochs=config.epochs, verbose=2,
             callbacks=callbacks)
    model = model_lib.build_classifier(config, embedding_path, head=head)
  model.save(fn_args.serving_model_dir, save_format="tf", include_optimizer=False,  # no Adam slots in serving
             signatures=_signatures(model, tf_transform_output, custom["label_key"],
                                        custom["class_names"]))
