"""One run at a time per pipeline: two runs of one pipeline would race on its ML
Metadata, its baseline (each judging against the same last blessed model) and its
pushes. An flock on `<output>/metadata/<name>/run.lock` (released when the process
ends, however it ends) makes the second fail at once, naming the first."""
import contextlib
import fcntl
import os
import socket
import time


class PipelineBusyError(RuntimeError):
  """Another run of the same pipeline (same --output-dir and --name) holds the lock."""


@contextlib.contextmanager
def held(metadata_path: str, pipeline_name: str):
  path = os.path.join(os.path.dirname(metadata_path), "run.lock")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "a+") as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      f.seek(0)
      holder = f.read().strip() or "another process"
      raise PipelineBusyError(f"pipeline {pipeline_name!r} is already running ({holder}; lock {path}); "
                              "wait for it to finish, or give this run another --name or --output-dir") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
    f.flush()
    yield
