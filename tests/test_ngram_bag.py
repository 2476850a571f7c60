"""The default embedding, minilm-bigram-bag: signature, pretrained unigram half, hashed
bigram half that fine-tuning reaches."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from models.embeddings import handles, ngram_bag, wordpiece_bag

DIM = 384 + ngram_bag.BIGRAM_DIM


@pytest.fixture(scope="module")
def module_path():
  return handles.resolve(ngram_bag.NAME)


@pytest.mark.parametrize("batch", [[], ["one review"], ["a", "b c", "d e f", "g"] * 8])
def test_signature_shape_and_dtype(module_path, batch):
  out = hub.load(module_path)(tf.constant(batch, dtype=tf.string))
  assert out.dtype == tf.float32 and out.shape == (len(batch), DIM)


def test_edge_inputs_are_finite(module_path):
  texts = ["", "   ", "x " * 50_000, "Ünïcödé ☃ 映画 😀", "<br /><br />", "single"]
  out = hub.load(module_path)(tf.constant(texts)).numpy()
  assert np.isfinite(out).all()
  assert np.allclose(out[0], 0.0)  # no pieces, no pairs: zeros, not NaN


def test_unigram_half_is_the_pretrained_bag_and_bigrams_start_at_zero(module_path):
  texts = tf.constant(["Not good at all.", "A wonderful, moving film"])
  out = hub.load(module_path)(texts).numpy()
  bag = hub.load(handles.resolve(wordpiece_bag.NAME))(texts).numpy()
  np.testing.assert_allclose(out[:, :384], bag, rtol=1e-6)
  assert np.all(out[:, 384:] == 0.0)


def test_fine_tuning_reaches_the_bigram_rows_of_the_text(module_path):
  layer = hub.KerasLayer(module_path, trainable=True)
  text = tf.constant(["not good"])
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(text)[:, 384:])
  unigrams, bigrams = layer.trainable_weights
  grad = tf.convert_to_tensor(tape.gradient(loss, bigrams))
  touched = np.flatnonzero(np.abs(grad.numpy()).sum(axis=1))
  assert len(touched) == 1  # one adjacent pair of word pieces, one hashed row
  assert bigrams.shape == (ngram_bag.BUCKETS, ngram_bag.BIGRAM_DIM)
