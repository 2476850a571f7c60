"""all-MiniLM-L6-v2, the sentence-transformers encoder, as a TF Hub module.

A TF2 SavedModel in TF Hub's reusable format: raw strings [batch] -> float32 [batch, 384],
the L2-normalised mean of the last layer's token states, as sentence-transformers computes
it (Transformer -> Pooling(mean) -> Normalize). Loadable by `hub.KerasLayer` (trainable
or frozen) and `hub.load`. Everything is in the graph:

* tokenization: lower-casing, NFD and accent stripping as the original's BertTokenizer
  (do_lower_case=True), then tensorflow-text BertTokenizer over MiniLM's vocabulary; pieces
  truncated to 254 so that [CLS] + pieces + [SEP] is at most 256 (max_seq_length);
* the 6-layer BERT encoder (hidden 384, 12 heads, GELU, LayerNorm eps 1e-12) on the
  official weights from model.safetensors (SHA-256 verified), kept in PyTorch's
  [out, in] layout;
* mean pooling over the attention mask ([CLS] and [SEP] included) and L2 normalisation.

Equivalence with the reference (sentence-transformers on PyTorch) is tested against
committed vectors: tests/fixtures/minilm_reference/.
"""
import json
import math
import pathlib

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from models.embeddings import export, minilm_files, wordpiece_bag

NAME = "minilm-l6-encoder"
MAX_SEQ_LENGTH = 256
_PAD_BIAS = -1e9


def _key(name: str) -> str:
  return name.replace(".", "__")


class MiniLMEncoder(tf.train.Checkpoint):
  """Strings -> normalised mean-pooled MiniLM sentence embeddings.

  A tf.train.Checkpoint (not a tf.Module) so `variables`, `trainable_variables` and
  `regularization_losses` are saved as plain attributes, as TF Hub's reusable
  SavedModel format requires.
  """

  def __init__(self, vocab: list[str], weights: dict, config: dict, max_seq_length: int = MAX_SEQ_LENGTH):
    super().__init__()
    # Lower-casing is done by `normalize` below, not by lower_case=True: that option case
    # *folds* (ß -> ss), where the original lower-cases (ß stays ß).
    self._vocab_table, self._tokenizer = wordpiece_bag.vocab_tokenizer(vocab, lower_case=False)
    self._cls = vocab.index("[CLS]")
    self._sep = vocab.index("[SEP]")
    self._max_pieces = max_seq_length - 2
    self._layers = config["num_hidden_layers"]
    self._heads = config["num_attention_heads"]
    self._eps = config["layer_norm_eps"]
    # BERT's pooler (pooler.dense) is not part of the sentence embedding: left out.
    self.weights = {_key(k): tf.Variable(v, name=_key(k), trainable=True)
                    for k, v in weights.items() if v.dtype == np.float32 and not k.startswith("pooler.")}
    self.variables = list(self.weights.values())
    self.trainable_variables = list(self.weights.values())
    self.regularization_losses = []

  def _w(self, name: str) -> tf.Variable:
    return self.weights[_key(name)]

  def _dense(self, x, name: str):
    """x [batch, length, in] @ W^T + b. As one [batch * length, in] matrix product: a
    [batch, length, in] x [out, in] product is a broadcast BatchMatMul, a small product
    per text, about 6x slower on 2 CPU cores for short texts."""
    weight = self._w(f"{name}.weight")
    flat = tf.reshape(x, [-1, tf.shape(x)[-1]])
    y = tf.matmul(flat, weight, transpose_b=True) + self._w(f"{name}.bias")
    return tf.reshape(y, tf.concat([tf.shape(x)[:-1], tf.shape(weight)[:1]], axis=0))

  def _layer_norm(self, x, name: str):
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + self._eps) * self._w(f"{name}.weight") + self._w(f"{name}.bias")

  @staticmethod
  def normalize(texts):
    """The original BertTokenizer's do_lower_case: str.lower(), then NFD with the
    combining marks (accents) removed."""
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf_text.normalize_utf8(texts, "NFD")
    return tf.strings.regex_replace(texts, r"\p{Mn}", "")

  def token_ids(self, texts):
    """[CLS] + word pieces (at most max_seq_length - 2) + [SEP], as a RaggedTensor."""
    pieces = self._tokenizer.tokenize(self.normalize(texts)).merge_dims(-2, -1)[:, :self._max_pieces]
    rows = tf.shape(texts, out_type=tf.int64)[0]
    cls = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], tf.constant(self._cls, tf.int64)))
    sep = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], tf.constant(self._sep, tf.int64)))
    return tf.concat([cls, pieces, sep], axis=1)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, texts):
    ids = self.token_ids(texts)
    mask = tf.cast(tf.ones_like(ids).to_tensor(0), tf.float32)        # [batch, length]
    dense_ids = ids.to_tensor(0)
    length = tf.shape(dense_ids)[1]
    x = (tf.gather(self._w("embeddings.word_embeddings.weight"), dense_ids)
         + self._w("embeddings.position_embeddings.weight")[tf.newaxis, :length]
         + self._w("embeddings.token_type_embeddings.weight")[0])
    x = self._layer_norm(x, "embeddings.LayerNorm")
    batch, hidden = tf.shape(x)[0], tf.shape(x)[2]
    head_dim = x.shape[-1] // self._heads
    attention_bias = (1.0 - mask)[:, tf.newaxis, tf.newaxis, :] * _PAD_BIAS

    def split_heads(t):
      return tf.transpose(tf.reshape(t, [batch, length, self._heads, head_dim]), [0, 2, 1, 3])

    for i in range(self._layers):
      p = f"encoder.layer.{i}"
      q = split_heads(self._dense(x, f"{p}.attention.self.query"))
      k = split_heads(self._dense(x, f"{p}.attention.self.key"))
      v = split_heads(self._dense(x, f"{p}.attention.self.value"))
      scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(head_dim) + attention_bias
      context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
      context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, length, hidden])
      x = self._layer_norm(x + self._dense(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
      h = tf.nn.gelu(self._dense(x, f"{p}.intermediate.dense"), approximate=False)
      x = self._layer_norm(x + self._dense(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    pooled = tf.reduce_sum(x * mask[:, :, tf.newaxis], axis=1) / tf.maximum(
        tf.reduce_sum(mask, axis=1, keepdims=True), 1e-9)
    return tf.math.l2_normalize(pooled, axis=-1, epsilon=1e-24)  # F.normalize: x / max(|x|, 1e-12)


def build(export_dir: pathlib.Path) -> pathlib.Path:
  """Builds the module from the verified MiniLM files into export_dir (atomically)."""
  files = minilm_files.verified_files()
  config = json.loads((files["vocab.txt"].parent / "config.json").read_text())
  module = MiniLMEncoder(minilm_files.load_vocab(files["vocab.txt"]),
                         minilm_files.load_weights(files["model.safetensors"]), config)
  return export.save_atomically(module, export_dir)
