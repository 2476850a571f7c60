"""The offline default text embedding: a bag of pretrained MiniLM word pieces.

A TF2 SavedModel in TF Hub's reusable format (strings [batch] -> float32 [batch, 384]),
loadable by `hub.KerasLayer` (trainable or frozen) and `hub.load`. Tokenization is in
the graph (tensorflow-text BertTokenizer over the MiniLM vocabulary, lower-cased as the
original), so a client sends raw text. Each review is the sum of its word-piece vectors
from MiniLM's pretrained embedding table divided by sqrt(#pieces): length-robust, and a
good start for fine-tuning (see ../shared/ENVIRONMENT.md's calibration experiment).

Ops in the graph: core TF plus CaseFoldUTF8, NormalizeUTF8, RegexSplitWithOffsets and
WordpieceTokenizeWithOffsets, so a process that loads it must `import tensorflow_text`.
"""
import pathlib

import tensorflow as tf
import tensorflow_text as tf_text

from models.embeddings import export, minilm_files

NAME = "minilm-wordpiece-bag"
MAX_PIECES = 2048


def vocab_tokenizer(vocab: list[str], lower_case: bool = True):
  """MiniLM's vocabulary as a lookup table (one OOV bucket) and the in-graph WordPiece
  tokenizer over it, giving int64 ids. The module must keep the table as an attribute."""
  init = tf.lookup.KeyValueTensorInitializer(tf.constant(vocab), tf.range(len(vocab), dtype=tf.int64))
  table = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=1)
  return table, tf_text.BertTokenizer(table, lower_case=lower_case, token_out_type=tf.int64,
                                      unknown_token="[UNK]")


def with_oov_row(table) -> tf.Tensor:
  """The pretrained table plus one zero row for the out-of-vocabulary bucket."""
  return tf.concat([tf.constant(table, tf.float32), tf.zeros([1, table.shape[1]])], 0)


def sqrt_n_pool(table, ids: tf.RaggedTensor, rows, row_weights=None) -> tf.Tensor:
  """Sum of the rows of `table` each text's ids pick, divided by sqrt(#ids); zeros for none.
  With `row_weights` ([table rows]), each picked row is first scaled by its weight."""
  picked = tf.gather(table, ids.flat_values)
  if row_weights is not None:
    picked *= tf.gather(row_weights, ids.flat_values)[:, tf.newaxis]
  summed = tf.math.unsorted_segment_sum(picked, ids.value_rowids(), rows)
  return summed / tf.sqrt(tf.maximum(tf.cast(ids.row_lengths(), tf.float32), 1.0))[:, tf.newaxis]


class WordPieceBag(tf.train.Checkpoint):
  """Strings -> pooled pretrained word-piece embeddings.

  A tf.train.Checkpoint rather than a tf.Module: TF Hub's reusable-SavedModel format
  needs `variables`, `trainable_variables` and `regularization_losses` saved as plain
  attributes, which tf.Module computes as properties and does not save.
  """

  def __init__(self, vocab: list[str], table, max_pieces: int = MAX_PIECES):
    super().__init__()
    self._vocab_table, self._tokenizer = vocab_tokenizer(vocab)
    self.embeddings = tf.Variable(with_oov_row(table), trainable=True, name="embeddings")
    self._max_pieces = max_pieces
    self.variables = [self.embeddings]
    self.trainable_variables = [self.embeddings]
    self.regularization_losses = []

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, texts):
    ids = self._tokenizer.tokenize(texts).merge_dims(-2, -1)[:, :self._max_pieces]
    return sqrt_n_pool(self.embeddings, ids, tf.shape(texts)[0])


def build(export_dir: pathlib.Path) -> pathlib.Path:
  """Builds the module from the verified MiniLM files into export_dir (atomically)."""
  files = minilm_files.verified_files()
  module = WordPieceBag(minilm_files.load_vocab(files["vocab.txt"]),
                       minilm_files.load_word_embeddings(files["model.safetensors"]))
  return export.save_atomically(module, export_dir)
