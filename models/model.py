"""The classifier: the TF Hub tutorial's architecture on any text-embedding module.

hub.KerasLayer(handle, trainable) -> Dense(hidden, relu) -> Dense(1) logits, binary
cross-entropy from logits, Adam. hub.KerasLayer is a tf_keras (Keras 2) layer, so
TF_USE_LEGACY_KERAS=1 must be set before TensorFlow is imported (scripts/env.sh does).
"""
import dataclasses

import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  registers the tokenizer ops the module uses
import tf_keras as keras

from models import features


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Hyper-parameters; the pipeline passes them to the Trainer as custom_config."""
  embedding_handle: str = "minilm-wordpiece-bag"
  trainable: bool = True
  hidden_units: int = 16
  epochs: int = 5              # an upper bound: early stopping picks the epoch
  patience: int = 1            # early stopping on the eval split's loss
  batch_size: int = 64
  learning_rate: float = 1e-3
  seed: int = 42

  @classmethod
  def from_dict(cls, values: dict) -> "ModelConfig":
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def build_classifier(config: ModelConfig, embedding_path: str) -> keras.Model:
  """Returns a compiled model mapping a [batch] string tensor to [batch, 1] logits."""
  keras.utils.set_random_seed(config.seed)
  text = keras.Input(shape=(), dtype=tf.string, name=features.TEXT_XF)
  embedded = hub.KerasLayer(embedding_path, trainable=config.trainable, name="embedding")(text)
  hidden = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(embedded)
  logits = keras.layers.Dense(1, name="logits")(hidden)
  model = keras.Model(text, logits, name="text_classifier")
  model.compile(
      optimizer=keras.optimizers.Adam(config.learning_rate),
      loss=keras.losses.BinaryCrossentropy(from_logits=True),
      metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"),
               keras.metrics.AUC(from_logits=True, name="auc")])
  return model
