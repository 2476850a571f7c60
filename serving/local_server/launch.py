"""Starts `python -m serving.local_server` as a separate process, as a user would, and
waits for its ready line. Used by the end-to-end tests and the serving benchmark, so the
server never shares a Python interpreter (and its GIL) with the clients measuring it."""
import contextlib
import os
import re
import subprocess
import sys
import threading

import portpicker

_READY = re.compile(r"local_server ready grpc=(\S+):(\d+) rest=(\S+):(\d+)")


@contextlib.contextmanager
def server_process(model_name: str, base_path: str, extra_args=(), start_timeout: float = 120):
  """Yields (grpc_target, rest_url) of a running local server; stops it afterwards."""
  grpc_port, rest_port = portpicker.pick_unused_port(), portpicker.pick_unused_port()
  process = subprocess.Popen(
      [sys.executable, "-m", "serving.local_server", f"--model_name={model_name}",
       f"--model_base_path={base_path}", f"--port={grpc_port}", f"--rest_api_port={rest_port}", *extra_args],
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
  try:
    lines = []
    for line in process.stdout:
      lines.append(line)
      match = _READY.match(line)
      if match:
        break
    else:
      raise RuntimeError("the local server exited before it was ready:\n" + "".join(lines[-20:]))
    # Keep draining its output so a chatty server never blocks on a full pipe.
    drain = threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True)
    drain.start()
    yield f"{match[1]}:{match[2]}", f"http://{match[3]}:{match[4]}"
  finally:
    stop_process(process)


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
  """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
  process.terminate()
  try:
    process.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()
