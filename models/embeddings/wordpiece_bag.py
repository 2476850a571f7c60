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
VERSION = 2  # bump when the graph changes, so cached builds are rebuilt
MAX_PIECES = 2048


class WordPieceBag(tf.train.Checkpoint):
  """Strings -> pooled pretrained word-piece embeddings.

  A tf.train.Checkpoint rather than a tf.Module: TF Hub's reusable-SavedModel format
  needs `variables`, `trainable_variables` and `regularization_losses` saved as plain
  attributes, which tf.Module computes as properties and does not save.
  """

  def __init__(self, vocab: list[str], table, max_pieces: int = MAX_PIECES):
    super().__init__()
    init = tf.lookup.KeyValueTensorInitializer(
        tf.constant(vocab), tf.range(len(vocab), dtype=tf.int64))
    self._vocab_table = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=1)
    self._tokenizer = tf_text.BertTokenizer(
        self._vocab_table, lower_case=True, token_out_type=tf.int64, unknown_token="[UNK]")
    # One extra (zero) row for the out-of-vocabulary bucket.
    table = tf.concat([tf.constant(table, tf.float32), tf.zeros([1, table.shape[1]])], 0)
    self.embeddings = tf.Variable(table, trainable=True, name="embeddings")
    self._max_pieces = max_pieces
    self.variables = [self.embeddings]
    self.trainable_variables = [self.embeddings]
    self.regularization_losses = []

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, texts):
    ids = self._tokenizer.tokenize(texts).merge_dims(-2, -1)[:, :self._max_pieces]
    vectors = tf.gather(self.embeddings, ids.flat_values)
    summed = tf.math.unsorted_segment_sum(vectors, ids.value_rowids(), tf.shape(texts)[0])
    counts = tf.cast(ids.row_lengths(), tf.float32)
    return summed / tf.sqrt(tf.maximum(counts, 1.0))[:, tf.newaxis]


def build(export_dir: pathlib.Path) -> pathlib.Path:
  """Builds the module from the verified MiniLM files into export_dir (atomically)."""
  files = minilm_files.verified_files()
  module = WordPieceBag(minilm_files.load_vocab(files["vocab.txt"]),
                       minilm_files.load_word_embeddings(files["model.safetensors"]))
  return export.save_atomically(module, export_dir)
