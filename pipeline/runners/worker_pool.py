"""Beam's SDK worker pool (`apache_beam.runners.worker.worker_pool_main`) inside the pipeline
image: the process a Flink or Spark cluster runs beside each task manager, and the one
`make run-portable ARGS="--worker-pool-address localhost:PORT"` sends every Beam step to.

  make worker-pool PORT=50000 DIRS="/srv/mydata"     # on the host, where podman or docker is

Standard library only, so that it runs with the host's python3 where the project's
environment is the Debian 13 userland (scripts/env.sh), which has no container engine.
The folders the steps read and write (the data, the outputs, the module cache) are mounted
at the same paths, since the workers are handed absolute paths.
"""
import argparse
import os
import sys
from typing import Sequence

from kubeflow import container_run   # standard library only too: the engine, its settings
from pipeline import paths

PIPELINE_IMAGE = "tfx-text-pipeline:latest"   # `make image`: TFX, the pinned stack and this project
POOL_MODULE = "apache_beam.runners.worker.worker_pool_main"
# What every run reads or writes besides its data: make run's default --output-dir and the
# module and dataset cache.
DEFAULT_DIRS = (str(paths.OUTPUT_DIR), str(paths.cache_root()))


def in_image_command(port: int, image: str = PIPELINE_IMAGE, shared_dirs: Sequence[str] = ()) -> list:
  """The pool in the image, on the host's network, the shared folders at their own paths."""
  mounts = [flag for d in sorted({os.path.abspath(d) for d in shared_dirs}) for flag in ("-v", f"{d}:{d}")]
  # --init: a PID 1 that passes the stop signal on (Python as PID 1 would ignore it).
  return [*container_run.default_engine(), "run", "--rm", "--init", "--network", "host", *mounts, image,
          "python", "-m", POOL_MODULE, f"--service_port={port}"]


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="make worker-pool", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--port", type=int, default=50000)
  p.add_argument("--image", default=PIPELINE_IMAGE)
  p.add_argument("dirs", nargs="*", help="folders the steps read or write besides outputs/ and the cache: the data")
  args = p.parse_args(argv)
  os.environ.setdefault("CONTAINERS_CONF", str(container_run.CONTAINERS_CONF))
  for d in (*DEFAULT_DIRS, *args.dirs):
    os.makedirs(d, exist_ok=True)
  command = in_image_command(args.port, args.image, (*DEFAULT_DIRS, *args.dirs))
  print(f"[worker-pool] {' '.join(command)}", flush=True)
  os.execvp(command[0], command)
  return 1


if __name__ == "__main__":
  sys.exit(main())
