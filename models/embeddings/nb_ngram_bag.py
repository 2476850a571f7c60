"""The NBSVM lesson as a trainable TF Hub module: word n-grams scaled by Naive-Bayes ratios.

Wang & Manning (2012): on sentiment, a linear model over binary word uni/bi/tri-grams
whose columns are scaled by the Naive-Bayes log-count ratio r (computed on the train
split) beats both Naive Bayes and a plain linear model. Here the scaled n-grams are an
embedding the Keras head sits on. Strings [batch] -> float32 [batch, NGRAM_DIM]:

  sum over the text's distinct word 1-3-grams i of r_i * W_i, divided by sqrt(#n-grams)

* words: lower-cased, HTML line breaks dropped, runs of letters, digits, _ and ', and each
  of ! ? . , as a word of its own; n-grams hashed into BUCKETS rows;
* W [BUCKETS, NGRAM_DIM] starts small and random and is learned in fine-tuning;
* r [BUCKETS] is not trained. It starts at 1 (a plain hashed n-gram bag, which is what
  multi-class and multi-label tasks get) and, for a binary task, the Trainer sets it from
  the train split's counts before fitting (models/nb_ratio.py), through the module's
  `ngram_ids` function and `log_count_ratio` variable.

r is saved with the module, so the trained SavedModel still maps raw text to vectors with
tokenization in the graph (TF Serving clients send text). Nothing pretrained: every weight
comes from the task's own data. Ops: core TF plus CaseFoldUTF8 and RegexSplitWithOffsets
(tensorflow-text). Size and training chosen on the full-IMDB eval split, one run each
outside TFX: 2^22 x 16 at batch 256, learning rate 3e-3 (eval accuracy 0.925); 2^21 x 16
0.923; at batch 128, 2^22 x 8 0.918 and 2^21 x 32 0.916. A second seed of the chosen one
gave 0.920, so differences under ~0.4 points are noise.
"""
import pathlib

import tensorflow as tf
import tensorflow_text as tf_text

from models.embeddings import export, wordpiece_bag

NAME = "nb-word-ngram-bag"
BUCKETS = 1 << 22
NGRAM_DIM = 16
INIT_STDDEV = 0.05
MAX_WORDS = 4096
# Words: letters, digits, _ and '; the punctuation below is a word of its own (NBSVM-style
# tokenization: "!" and "?" carry sentiment; "<br />" is IMDB markup).
_DELIMITERS = r"[^\pL\pN_'!?.,]+|[!?.,]"
_KEPT = r"[!?.,]"
_PRIME = (1 << 31) - 1
_A, _B, _C = 2654435761, 40503, 97787


def word_ngram_ids(texts, buckets: int, max_words: int = MAX_WORDS) -> tf.RaggedTensor:
  """Strings [batch] -> the hashed ids of each text's distinct word 1-, 2- and 3-grams."""
  text = tf.strings.regex_replace(tf_text.case_fold_utf8(texts), "<br */?>", " ")
  words = tf_text.regex_split(text, _DELIMITERS, _KEPT)[:, :max_words]
  w = words.with_flat_values(tf.strings.to_hash_bucket_fast(words.flat_values, _PRIME))
  bi = w[:, :-1].with_flat_values((w[:, :-1].flat_values * _A + w[:, 1:].flat_values * _B) % _PRIME)
  tri = bi[:, :-1].with_flat_values((bi[:, :-1].flat_values * _A + w[:, 2:].flat_values * _C) % _PRIME)
  grams = tf.concat([w, bi, tri], axis=1)
  rows = tf.cast(tf.shape(texts)[0], tf.int64)
  keys, _ = tf.unique(grams.value_rowids() * buckets + grams.flat_values % buckets)  # row-major, as grams
  return tf.RaggedTensor.from_value_rowids(keys % buckets, keys // buckets, nrows=rows)


class NbNgramBag(tf.train.Checkpoint):
  """Strings -> NB-scaled word n-gram vectors. A tf.train.Checkpoint for TF Hub's reusable
  format (see wordpiece_bag.WordPieceBag)."""

  def __init__(self, buckets: int = BUCKETS, ngram_dim: int = NGRAM_DIM):
    super().__init__()
    # Small random, not zero: a zero vector would feed the head's ReLUs exactly 0, where
    # they pass no gradient.
    start = tf.random.stateless_normal([buckets, ngram_dim], seed=[0, 1], stddev=INIT_STDDEV)
    self.ngrams = tf.Variable(start, trainable=True, name="ngrams")
    self.log_count_ratio = tf.Variable(tf.ones([buckets]), trainable=False, name="log_count_ratio")
    self._buckets = buckets
    self.variables = [self.ngrams, self.log_count_ratio]
    self.trainable_variables = [self.ngrams]
    self.regularization_losses = []

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def ngram_ids(self, texts):
    return word_ngram_ids(texts, self._buckets)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, texts):
    return wordpiece_bag.sqrt_n_pool(self.ngrams, word_ngram_ids(texts, self._buckets), tf.shape(texts)[0],
                                     row_weights=self.log_count_ratio)


def build(export_dir: pathlib.Path, buckets: int = BUCKETS, ngram_dim: int = NGRAM_DIM) -> pathlib.Path:
  """Needs no pretrained files: every weight is learned (or counted) on the task's data."""
  return export.save_atomically(NbNgramBag(buckets, ngram_dim), export_dir)
