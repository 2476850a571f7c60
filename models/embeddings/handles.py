"""Turns an embedding handle into a local SavedModel path the Trainer can load.

A handle is one of:
  * a registered name (models/embeddings/registry.py): a module built once into the
    cache (`nb-word-ngram-bag` and `minilm-bigram-bag`, the defaults by task kind;
    `minilm-wordpiece-bag`; `minilm-l6-encoder`; ...), or a named TF Hub module;
  * a local SavedModel directory;
  * a TF Hub URL (https://tfhub.dev/...), a Kaggle Models URL, or a short TF Hub handle
    such as `google/nnlm-en-dim50/2`, fetched by tensorflow_hub into TFHUB_CACHE_DIR.
Two or more handles joined by "+" (`nb-word-ngram-bag+minilm-bigram-bag`) put the
modules side by side on the same text (models/model.py concatenates their vectors).
Resolving happens once, when the pipeline is built, so a bad handle fails before any
data is read, and every component sees the same local files.
"""
import os
import pathlib
import re
import socket

from models.embeddings import registry
from pipeline import paths

_SHORT_HUB_HANDLE = re.compile(r"^[\w.-]+/[\w.-]+/\d+$")  # publisher/model/version


class EmbeddingHandleError(ValueError):
  """The handle cannot be turned into a loadable module."""


def default_cache_dir() -> pathlib.Path:
  return paths.cache_root() / "hub"


SIDE_BY_SIDE = "+"


def parts(handle: str) -> list:
  """The modules a handle names: one, or several joined by '+' (an existing local path
  with a '+' in its name stays one handle)."""
  if SIDE_BY_SIDE not in handle or pathlib.Path(handle).expanduser().exists():
    return [handle]
  names = handle.split(SIDE_BY_SIDE)
  if any(not name.strip() for name in names):
    raise EmbeddingHandleError(f"embedding handle {handle!r}: an empty name beside '{SIDE_BY_SIDE}'")
  return [name.strip() for name in names]


def resolve_all(handle: str, cache_dir: pathlib.Path | None = None) -> list:
  """Local SavedModel paths, one per module the handle names (parts)."""
  return [resolve(part, cache_dir) for part in parts(handle)]


def _is_remote(handle: str) -> bool:
  return handle.startswith(("http://", "https://", "gs://")) or bool(_SHORT_HUB_HANDLE.match(handle))


def resolve(handle: str, cache_dir: pathlib.Path | None = None) -> str:
  """Returns an absolute local path to a TF2 SavedModel for `handle`."""
  cache_dir = pathlib.Path(cache_dir or default_cache_dir())
  if handle in registry.REGISTRY:
    embedding = registry.REGISTRY[handle]
    if embedding.url:
      return _fetch(embedding.url)
    path = registry.cached_build_dir(cache_dir, embedding)
    if not (path / "saved_model.pb").exists():
      embedding.build(path)
    return str(path)
  local = pathlib.Path(handle).expanduser()
  if local.exists():
    if not (local / "saved_model.pb").exists():
      raise EmbeddingHandleError(f"{local}: not a SavedModel directory (no saved_model.pb)")
    return str(local.resolve())
  if _is_remote(handle):
    return _fetch(handle)
  raise EmbeddingHandleError(
      f"embedding handle {handle!r} is neither a registered name, an existing SavedModel "
      f"directory, nor a TF Hub / Kaggle handle. Registered:\n{registry.describe()}")


def _fetch(handle: str) -> str:
  import tensorflow_hub as hub  # pylint: disable=import-outside-toplevel
  url = handle if "://" in handle else f"https://tfhub.dev/{handle}"
  previous = socket.getdefaulttimeout()
  socket.setdefaulttimeout(float(os.environ.get("TFX_TEXT_HUB_TIMEOUT", "20")))
  try:
    return hub.resolve(url)
  except Exception as e:  # network, HTTP and format errors all end the same way
    raise EmbeddingHandleError(
        f"could not fetch embedding module {url} ({type(e).__name__}: {e}). Without a "
        f"network, download the module elsewhere, unpack it, and pass the local "
        f"SavedModel directory as the handle (--embedding /path/to/module), or point "
        f"TFHUB_CACHE_DIR at a cache that already holds it. Modules that work offline: "
        f"{', '.join(n for n, e in registry.REGISTRY.items() if e.build)}.") from e
  finally:
    socket.setdefaulttimeout(previous)
