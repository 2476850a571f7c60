"""The all-MiniLM-L6-v2 hub module: signature, edge inputs, equivalence with the
reference implementation (sentence-transformers on PyTorch; vectors committed with the
script that computed them), hub compatibility."""
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from models.embeddings import handles, minilm_encoder, minilm_files

REFERENCE = pathlib.Path(__file__).parent / "fixtures" / "minilm_reference" / "reference.json"


@pytest.fixture(scope="module")
def module_path():
  return handles.resolve(minilm_encoder.NAME)


@pytest.fixture(scope="module")
def encoder(module_path):
  return hub.load(module_path)


@pytest.mark.parametrize("batch", [[], ["one review"], ["a", "b c", "d e f", "g"] * 5])
def test_signature_shape_dtype_and_unit_norm(encoder, batch):
  out = encoder(tf.constant(batch, dtype=tf.string))
  assert out.dtype == tf.float32 and out.shape == (len(batch), 384)
  np.testing.assert_allclose(np.linalg.norm(out.numpy(), axis=1), 1.0, rtol=1e-5)


def test_edge_inputs(encoder):
  texts = ["", "   ", "x " * 50_000, "Ünïcödé ☃ 映画 😀", "<br /><br />", "a" * 5_000]
  out = encoder(tf.constant(texts)).numpy()
  assert np.isfinite(out).all()
  np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_long_text_is_truncated_to_256_pieces(encoder):
  """Past 254 word pieces (+ [CLS], [SEP]) the rest of a text does not count, as in the original."""
  words = " ".join(f"word{i}" for i in range(2000))
  longer = words + " and a different ending that lies far beyond the cut"
  np.testing.assert_allclose(encoder(tf.constant([words])).numpy(), encoder(tf.constant([longer])).numpy(), atol=1e-6)


def test_matches_the_reference_implementation():
  reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
  assert reference["model_safetensors_sha256"] == minilm_files.SHA256["model.safetensors"]
  assert reference["max_seq_length"] == minilm_encoder.MAX_SEQ_LENGTH
  sentences, expected = reference["sentences"], np.array(reference["embeddings"])
  assert len(sentences) >= 20
  got = hub.load(handles.resolve(minilm_encoder.NAME))(tf.constant(sentences)).numpy()
  cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
  worst = int(np.argmin(cosine))
  assert cosine.min() >= 0.999, f"cosine {cosine[worst]:.6f} on {sentences[worst][:60]!r}"


def test_keras_layer_trainable_and_frozen(module_path):
  trainable = hub.KerasLayer(module_path, trainable=True)
  frozen = hub.KerasLayer(module_path, trainable=False)
  x = tf.constant(["a fine film", "a dull one"])
  assert trainable(x).shape == (2, 384) and frozen(x).shape == (2, 384)
  assert len(frozen.trainable_weights) == 0 and len(trainable.trainable_weights) == 101
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(trainable(x)[:, 0])
  grads = tape.gradient(loss, trainable.trainable_weights)
  assert all(g is not None for g in grads)  # every weight is live: fine-tuning reaches the whole encoder
