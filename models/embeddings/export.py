"""Writing a built module into the cache so a reader never sees a half-written one."""
import pathlib
import shutil
import tempfile

import tensorflow as tf


def save_atomically(module, export_dir: pathlib.Path) -> pathlib.Path:
  """tf.saved_model.save into a staging folder beside export_dir, then one rename.
  Two processes building at once is fine: the loser keeps the winner's build."""
  export_dir = pathlib.Path(export_dir)
  export_dir.parent.mkdir(parents=True, exist_ok=True)
  staging = pathlib.Path(tempfile.mkdtemp(prefix=".building-", dir=export_dir.parent))
  try:
    tf.saved_model.save(module, str(staging))
    staging.rename(export_dir)
  except OSError:
    if not (export_dir / "saved_model.pb").exists():  # not a concurrent builder's win
      raise
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return export_dir
