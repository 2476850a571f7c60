"""`make run-portable`: every Beam step through Beam's portability framework, the way
Flink, Spark and Dataflow run a Python pipeline.

The PortableRunner submits each Beam-powered component's pipeline (ExampleGen,
StatisticsGen, Transform, Evaluator) to Beam's own job service
(`apache_beam.runners.portability.local_job_service_main`), which asks a worker pool
(`apache_beam.runners.worker.worker_pool_main`, `--environment_type=EXTERNAL`) for SDK
workers: other processes that unpickle the project's code and run it.

  make run-portable                                   # the worker pool on this host
  make run-portable ARGS="--worker-pool podman"       # the pool inside the pipeline image (make image)
  make run-portable ARGS="--worker-pool-address localhost:50000"   # a pool already listening there
  make run-portable ARGS="-- --data data/trec --label-column coarse"   # make run's flags after --

Where the project's environment is the Debian 13 userland (scripts/env.sh), no container
engine is inside it: start the image's pool on the host (`make worker-pool`,
pipeline/runners/worker_pool.py) and give its address.
"""
import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from typing import Iterator, Sequence

import portpicker

from pipeline.runners import worker_pool
from pipeline.runners.worker_pool import PIPELINE_IMAGE
from serving.local_server.launch import stop_process

HOST, PODMAN = "host", "podman"
START_SECONDS = 180     # a service or pool that is not listening by then has failed


def portable_beam_args(job_port: int, worker_pool_address: str) -> list[str]:
  """Beam options that send every Beam step to the job service and the worker pool."""
  return ["--runner=PortableRunner", f"--job_endpoint=localhost:{job_port}", "--environment_type=EXTERNAL",
          f"--environment_config={worker_pool_address}"]


def worker_pool_command(kind: str, port: int, image: str = PIPELINE_IMAGE, shared_dirs: Sequence[str] = ()) -> list:
  """The worker pool, on this host or in the pipeline image (worker_pool.in_image_command)."""
  if kind == HOST:
    return [sys.executable, "-m", worker_pool.POOL_MODULE, f"--service_port={port}"]
  return worker_pool.in_image_command(port, image, shared_dirs)


def _await_listening(address: str, what: str, process=None, log_path: str = "") -> None:
  """Returns once something listens at host:port; fails if process exits first or by START_SECONDS."""
  host, port = address.rsplit(":", 1)
  where = f"; log: {log_path}" if log_path else ""
  deadline = time.time() + START_SECONDS
  while True:
    if process is not None and process.poll() is not None:
      raise RuntimeError(f"the {what} exited ({process.returncode}) before it listened{where}")
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=1):
      return
    if time.time() > deadline:
      raise RuntimeError(f"no {what} listening at {address} after {START_SECONDS} s{where}")
    time.sleep(0.5)


@contextlib.contextmanager
def _serving(command: list, port: int, log_path: str, what: str) -> Iterator[None]:
  """Runs a service until the block ends; fails if it is not listening on port in time."""
  with open(log_path, "w") as log:
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
  try:
    _await_listening(f"localhost:{port}", what, process, log_path)
    yield
  finally:
    stop_process(process)


@contextlib.contextmanager
def portable_services(log_dir: str, pool: str = HOST, image: str = PIPELINE_IMAGE,
                      shared_dirs: Sequence[str] = (), pool_address: str = "") -> Iterator[list[str]]:
  """A job service and a worker pool, as separate processes, or the job service and the pool
  already listening at pool_address; yields the Beam options."""
  os.makedirs(log_dir, exist_ok=True)
  job_port = portpicker.pick_unused_port()
  job_service = [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
                 f"--port={job_port}"]
  with contextlib.ExitStack() as services:
    services.enter_context(_serving(job_service, job_port, os.path.join(log_dir, "job_service.log"), "job service"))
    if not pool_address:
      worker_port = portpicker.pick_unused_port()
      services.enter_context(_serving(worker_pool_command(pool, worker_port, image, shared_dirs), worker_port,
                                      os.path.join(log_dir, "worker_pool.log"), f"worker pool ({pool})"))
      pool_address = f"localhost:{worker_port}"
    else:
      _await_listening(pool_address, "worker pool (make worker-pool)")
    yield portable_beam_args(job_port, pool_address)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m pipeline.runners.portable", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--worker-pool", choices=[HOST, PODMAN], default=HOST)
  p.add_argument("--worker-pool-address", default="", metavar="HOST:PORT",
                 help="send the steps to a pool already listening there (make worker-pool); start none")
  p.add_argument("--image", default=PIPELINE_IMAGE, help="the pipeline image, for --worker-pool podman")
  p.add_argument("run_args", nargs="*", help="make run's flags (after --)")
  args = p.parse_args(argv)
  from pipeline import cli  # pylint: disable=import-outside-toplevel  (imports TFX)
  run_args = args.run_args[1:] if args.run_args[:1] == ["run"] else args.run_args
  config, _ = cli.parse_config(["run", *run_args])
  shared = [config.output_dir, config.cache_dir, os.path.dirname(os.path.abspath(config.data.path))]
  pool = f"at {args.worker_pool_address}" if args.worker_pool_address else f"({args.worker_pool})"
  with portable_services(os.path.join(config.output_dir, "portable"), args.worker_pool, args.image,
                         shared, args.worker_pool_address) as beam_args:
    print(f"[portable] job service and worker pool {pool} up; Beam options: {' '.join(beam_args)}", flush=True)
    return cli.main(["run", *run_args, *(f"--beam-arg={a}" for a in beam_args)])


if __name__ == "__main__":
  sys.exit(main())
