"""The sources a run executes, as one SHA-256: what TFX's cache key does not see.

TFX reuses a cached execution (`--resume`) when its inputs (artifact ids), exec
properties and executor class path are unchanged: it does not read the code behind
that class path, the `models.*` functions Transform and Trainer name by string, nor a
file named by path (the curated schema). This hash covers them: the project's Python
packages that components run, the locked requirements and the curated schema's bytes.
The pipeline's two root nodes (TextExampleGen, CuratedSchemaGen) carry it as an exec
property, so any change re-runs every component; data changes are seen by ExampleGen's
own input fingerprint and settings by the exec properties.
"""
import hashlib
import pathlib
from typing import Optional

from pipeline.config import REPO_ROOT

PACKAGES = ("components", "models", "pipeline")
LOCK_FILE = pathlib.Path("requirements") / "lock.txt"


def sources_sha256(curated_schema: Optional[str] = None, root: pathlib.Path = REPO_ROOT) -> str:
  files = sorted(p for package in PACKAGES for p in (root / package).rglob("*.py")
                 if "__pycache__" not in p.parts)
  files.append(root / LOCK_FILE)
  digest = hashlib.sha256()
  for path in files:
    digest.update(str(path.relative_to(root)).encode() + b"\0")
    digest.update(path.read_bytes() if path.exists() else b"")
  if curated_schema:
    digest.update(b"schema\0" + pathlib.Path(curated_schema).read_bytes())
  return digest.hexdigest()
