"""A bag of pretrained word pieces and hashed word-piece bigrams, as a TF Hub module.

The fastText / NBSVM lesson for sentiment: word order matters mostly locally ("not
good", "waste of"), and a linear-ish model over unigrams and bigrams beats a pure bag of
words. Strings [batch] -> float32 [batch, 384 + bigram_dim]:

* the first 384 values: MiniLM's pretrained word-piece vectors, sum / sqrt(#pieces)
  (the `minilm-wordpiece-bag` module);
* the rest: vectors of adjacent word-piece pairs, hashed into `buckets` rows that start
  at zero and are learned when the module is fine-tuned, sum / sqrt(#pairs).

Tokenization is in the graph (tensorflow-text BertTokenizer over MiniLM's vocabulary,
lower-cased). It is meant to be fine-tuned (trainable=True); frozen, the bigram half is
zero. Ops: as `minilm-wordpiece-bag` (CaseFoldUTF8, NormalizeUTF8, RegexSplitWithOffsets,
WordpieceTokenizeWithOffsets) plus core TF.
"""
import pathlib

import tensorflow as tf

from models.embeddings import export, minilm_files, wordpiece_bag

NAME = "minilm-bigram-bag"
BUCKETS = 1 << 19
BIGRAM_DIM = 64
MAX_PIECES = 2048
# Multipliers of the pair hash (odd 32-bit constants; int64 arithmetic cannot overflow
# for ids below 2^31).
_A, _B = 2654435761, 40503


class NgramBag(tf.train.Checkpoint):
  """Strings -> [pooled pretrained unigrams, pooled hashed bigrams]. A tf.train.Checkpoint
  for TF Hub's reusable format (see wordpiece_bag.WordPieceBag)."""

  def __init__(self, vocab: list[str], table, buckets: int = BUCKETS, bigram_dim: int = BIGRAM_DIM,
               max_pieces: int = MAX_PIECES):
    super().__init__()
    self._vocab_table, self._tokenizer = wordpiece_bag.vocab_tokenizer(vocab)
    self.unigrams = tf.Variable(wordpiece_bag.with_oov_row(table), trainable=True, name="unigrams")
    self.bigrams = tf.Variable(tf.zeros([buckets, bigram_dim]), trainable=True, name="bigrams")
    self._buckets = buckets
    self._max_pieces = max_pieces
    self.variables = [self.unigrams, self.bigrams]
    self.trainable_variables = [self.unigrams, self.bigrams]
    self.regularization_losses = []

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, texts):
    ids = self._tokenizer.tokenize(texts).merge_dims(-2, -1)[:, :self._max_pieces]
    rows = tf.shape(texts)[0]
    left, right = ids[:, :-1], ids[:, 1:]
    pairs = left.with_flat_values((left.flat_values * _A + right.flat_values * _B) % self._buckets)
    return tf.concat([wordpiece_bag.sqrt_n_pool(self.unigrams, ids, rows),
                      wordpiece_bag.sqrt_n_pool(self.bigrams, pairs, rows)], axis=1)


def build(export_dir: pathlib.Path, buckets: int = BUCKETS, bigram_dim: int = BIGRAM_DIM) -> pathlib.Path:
  files = minilm_files.verified_files()
  module = NgramBag(minilm_files.load_vocab(files["vocab.txt"]),
                    minilm_files.load_word_embeddings(files["model.safetensors"]), buckets, bigram_dim)
  return export.save_atomically(module, export_dir)
