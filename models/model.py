"""The classifier: the TF Hub tutorial's architecture on any text-embedding module.

hub.KerasLayer(handle, trainable) -> Dense(hidden, relu) -> a head for the task's kind,
trained on logits with Adam (lazy on embedding tables: only the rows a batch used move,
models/lazy_adam.py):
  binary        Dense(1),  sigmoid cross-entropy (the tutorial)
  multi-class   Dense(n),  softmax cross-entropy over the n labels
  multi-label   Dense(n),  a sigmoid cross-entropy per label
hub.KerasLayer is a tf_keras (Keras 2) layer, so
TF_USE_LEGACY_KERAS=1 must be set before TensorFlow is imported (scripts/env.sh does).
"""
import dataclasses
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  registers the tokenizer ops the module uses
import tf_keras as keras

from models import features
from models.lazy_adam import LazyAdam
from models import task as task_lib
from models.embeddings import handles, registry


EMBEDDING_LAYER = "embedding"   # the hub.KerasLayer's name in the classifier (side by side: embedding_1, ...)
# The embedding a task gets unless one is named. Binary: the NBSVM module (full IMDB 0.9221
# against minilm-bigram-bag's 0.9018-0.9067, Trainer 37 s against 62-90 s; bundled sample
# 0.867 against 0.865). Multi-class and multi-label: the pretrained bag, since Naive-Bayes ratios
# are a binary idea and short texts need pretrained words (TREC 0.884 against 0.882,
# GoEmotions macro-F1 0.413 against 0.296). benchmarks/embedding_results.md, task_results.md.
DEFAULT_EMBEDDING = {task_lib.BINARY: "nb-word-ngram-bag", task_lib.MULTI_CLASS: "minilm-bigram-bag",
                     task_lib.MULTI_LABEL: "minilm-bigram-bag"}
BATCH_SIZE = 64          # where neither the config nor the embedding's registry entry says
LEARNING_RATE = 1e-3


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Hyper-parameters; the pipeline passes them to the Trainer as custom_config, after
  `for_task` has filled in what was left to the task and the embedding (None below)."""
  embedding_handle: Optional[str] = None   # None: DEFAULT_EMBEDDING for the task's kind
  trainable: Optional[bool] = None         # None: the registry's (fine-tuned unless it says frozen)
  # None: the tutorial's 16 for one-label tasks; 256 for multi-label, where 16 ReLUs
  # starve 28 sigmoid outputs (GoEmotions, 8k comments, 3 epochs: dev macro AUC 0.66 with
  # 16 units, 0.84 with 256).
  hidden_units: Optional[int] = None
  dropout: float = 0.5         # on the embedding, during training only
  epochs: int = 5              # an upper bound: early stopping picks the epoch
  patience: int = 1            # early stopping on the eval split's loss
  batch_size: Optional[int] = None         # None: the embedding's registry value, else BATCH_SIZE
  learning_rate: Optional[float] = None    # None: the embedding's registry value, else LEARNING_RATE
  seed: int = 42
  # Fields the user set explicitly (command-line flags): the Tuner searches only the
  # others, and a reused tuning result never overrides them.
  fixed: tuple[str, ...] = ()

  def for_task(self, task: task_lib.Task) -> "ModelConfig":
    """Every None decided: the embedding by the task's kind, then that embedding's defaults
    (side by side: the first module's batch size and learning rate; fine-tuned if any
    module is fine-tuned by default)."""
    handle = self.embedding_handle or DEFAULT_EMBEDDING[task.kind]
    modules = handles.parts(handle)
    tuned = registry.training_defaults(modules[0])
    return dataclasses.replace(
        self, embedding_handle=handle,
        trainable=(any(registry.default_trainable(m) for m in modules) if self.trainable is None
                   else self.trainable),
        batch_size=self.batch_size or tuned.get("batch_size", BATCH_SIZE),
        learning_rate=self.learning_rate or tuned.get("learning_rate", LEARNING_RATE))

  @classmethod
  def from_dict(cls, values: dict) -> "ModelConfig":
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in values.items() if k in names}
    if "fixed" in values:
      values["fixed"] = tuple(values["fixed"])
    return cls(**values)


def hidden_units(config: ModelConfig, task: task_lib.Task) -> int:
  if config.hidden_units:
    return config.hidden_units
  return 256 if task.kind == task_lib.MULTI_LABEL else 16


def build_head(config: ModelConfig, embedding_dim: int, task: task_lib.Task) -> keras.Model:
  """The classifier on top of the embedding: [batch, dim] vectors -> [batch, outputs] logits."""
  vectors = keras.Input(shape=(embedding_dim,), dtype=tf.float32, name="embedding_vector")
  x = keras.layers.Dropout(config.dropout, seed=config.seed, name="dropout")(vectors) if config.dropout else vectors
  hidden = keras.layers.Dense(hidden_units(config, task), activation="relu", name="hidden")(x)
  logits = keras.layers.Dense(task.outputs, name="logits")(hidden)
  return keras.Model(vectors, logits, name="head")


def loss_and_metrics(task: task_lib.Task) -> tuple:
  """The training loss and the progress metrics for the task's kind (labels as Transform
  encodes them: [batch, 1] 0/1 for binary, [batch] ids, or [batch, n] multi-hot)."""
  if task.kind == task_lib.MULTI_CLASS:
    return (keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            [keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
  auc = keras.metrics.AUC(from_logits=True, name="auc", multi_label=task.kind == task_lib.MULTI_LABEL,
                          num_labels=task.outputs if task.kind == task_lib.MULTI_LABEL else None)
  return keras.losses.BinaryCrossentropy(from_logits=True), [
      keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"), auc]


def probabilities(logits: tf.Tensor, task: task_lib.Task) -> tf.Tensor:
  """Logits -> what the model serves: P(labels[1]) for binary, a softmax over the labels
  for multi-class, an independent probability per label for multi-label."""
  return tf.nn.softmax(logits) if task.kind == task_lib.MULTI_CLASS else tf.sigmoid(logits)


def compile_for_training(model: keras.Model, config: ModelConfig, task: task_lib.Task) -> keras.Model:
  loss, metrics = loss_and_metrics(task)
  model.compile(optimizer=LazyAdam(config.learning_rate), loss=loss, metrics=metrics)
  return model


def embedding_layers(config: ModelConfig, embedding_paths) -> list:
  """One hub.KerasLayer per module (a path, or a list of paths side by side). Side by
  side, `trainable` fine-tunes the modules the registry fine-tunes by default; the others
  (the sentence encoders) stay frozen."""
  paths = [embedding_paths] if isinstance(embedding_paths, str) else list(embedding_paths)
  names = handles.parts(config.embedding_handle) if config.embedding_handle else [None]
  if len(names) != len(paths):
    names = [None] * len(paths)
  return [hub.KerasLayer(path, trainable=bool(config.trainable) and (len(paths) == 1 or registry.default_trainable(name)),
                         name=EMBEDDING_LAYER if i == 0 else f"{EMBEDDING_LAYER}_{i}")
          for i, (path, name) in enumerate(zip(paths, names))]


def embed(layers: list, text):
  """The modules' vectors for `text`, concatenated (one module: its vector)."""
  vectors = [layer(text) for layer in layers]
  return vectors[0] if len(vectors) == 1 else keras.layers.Concatenate(name="side_by_side")(vectors)


def build_classifier(config: ModelConfig, embedding_paths, task: task_lib.Task,
                     head: keras.Model = None) -> keras.Model:
  """Returns a compiled model mapping a [batch] string tensor to [batch, outputs] logits:
  the hub module(s), then `head` (a new one unless given, e.g. trained on cached vectors)."""
  keras.utils.set_random_seed(config.seed)
  text = keras.Input(shape=(), dtype=tf.string, name=features.TEXT_XF)
  embedded = embed(embedding_layers(config, embedding_paths), text)
  head = head or build_head(config, embedded.shape[-1], task)
  return compile_for_training(keras.Model(text, head(embedded), name="text_classifier"), config, task)


def embed_once(dataset: tf.data.Dataset, embed) -> tuple:
  """(vectors, labels) as numpy arrays: each (text, label) batch embedded once.

  Called eagerly, batch by batch, not inside tf.data's map: there the module's matrix
  products ran on fewer threads, 3.7x slower for all-MiniLM-L6-v2 on 2 cores
  (benchmarks/encoder_speed_results.md).
  """
  vectors, labels = [], []
  for text, label in by_length(dataset):
    vectors.append(embed(text).numpy())
    labels.append(label.numpy())
  return np.concatenate(vectors), np.concatenate(labels)


# Text lengths in bytes that bound embedding batches (by_length).
LENGTH_BOUNDARIES = (32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 4096)
EMBEDDING_BATCH = 64


def by_length(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """(text, label) batches regrouped into batches of texts of similar length: an encoder
  that pads a batch to its longest text (minilm-l6-encoder) then pads little. The order
  changes; the vectors do not (each text is embedded on its own row)."""
  return dataset.unbatch().bucket_by_sequence_length(
      lambda text, label: tf.strings.length(text), list(LENGTH_BOUNDARIES),
      [EMBEDDING_BATCH] * (len(LENGTH_BOUNDARIES) + 1))


def cache_embeddings(dataset: tf.data.Dataset, embed, shuffle_buffer: int, seed: int,
                     batch_size: int) -> tf.data.Dataset:
  """(text, label) batches -> (vector, label) batches, each text embedded once.

  A frozen embedding gives the same vector every epoch, so vectors are computed once
  (embed_once), kept, and reshuffled each epoch; only the head is trained.
  """
  vectors = tf.data.Dataset.from_tensor_slices(embed_once(dataset, embed))
  if shuffle_buffer:
    vectors = vectors.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  return vectors.batch(batch_size)
