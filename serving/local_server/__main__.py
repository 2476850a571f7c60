"""`python -m serving.local_server`: the stand-in for tensorflow_model_server.

Takes the same flags as TF Serving for what it implements, e.g.

  python -m serving.local_server --model_name=imdb_sentiment \
      --model_base_path=outputs/serving/imdb_sentiment --port=8500 --rest_api_port=8501
"""
import argparse
import logging
import signal
import sys
import threading

from serving.local_server.batcher import BatchingParameters
from serving.local_server.server import LocalModelServer, ServerOptions


def _bool(value: str) -> bool:
  if value.lower() in ("true", "1", "yes"):
    return True
  if value.lower() in ("false", "0", "no"):
    return False
  raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def parse_args(argv) -> tuple[ServerOptions, bool]:
  defaults = ServerOptions()
  p = argparse.ArgumentParser(prog="python -m serving.local_server", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model_name", default="")
  p.add_argument("--model_base_path", default="")
  p.add_argument("--model_config_file", default="", help="a ModelServerConfig text proto")
  p.add_argument("--host", default=defaults.host, help="address to bind (default: loopback only)")
  p.add_argument("--port", type=int, default=defaults.port, help="gRPC port (0: any free port)")
  p.add_argument("--rest_api_port", type=int, default=defaults.rest_api_port,
                 help="REST port (0: any free port, -1: no REST)")
  p.add_argument("--enable_batching", type=_bool, default=defaults.enable_batching)
  p.add_argument("--batching_parameters_file", default="", help="TF Serving BatchingParameters text proto")
  p.add_argument("--file_system_poll_wait_seconds", type=float, default=defaults.file_system_poll_wait_seconds)
  p.add_argument("--max_request_bytes", type=int, default=defaults.max_request_bytes,
                 help="largest gRPC message / REST body accepted")
  p.add_argument("--max_batch_rows", type=int, default=defaults.max_batch_rows,
                 help="most rows (instances, examples) one request may carry")
  p.add_argument("--max_connections", type=int, default=defaults.max_connections,
                 help="REST requests in progress / concurrent gRPC calls before new ones are refused "
                      "(idle connections do not count)")
  p.add_argument("--idle_timeout_seconds", type=float, default=defaults.idle_timeout_seconds,
                 help="REST: close a connection that sends no complete request headers for this long")
  p.add_argument("--body_timeout_seconds", type=float, default=defaults.body_timeout_seconds,
                 help="REST: the whole request body must arrive within this")
  p.add_argument("--request_log_dir", default="", help="log a sample of requests and answers here, as "
                                                      "PredictionLog TFRecords (make drift reads them)")
  p.add_argument("--request_log_rate", type=float, default=0.0, help="the share of requests logged, in (0, 1]")
  p.add_argument("--request_log_max_mb", type=int, default=defaults.request_log_max_mb,
                 help="bound on the log folder; the oldest file is deleted first")
  p.add_argument("--verbose", action="store_true")
  args = p.parse_args(argv)
  batching = BatchingParameters()
  if args.batching_parameters_file:
    with open(args.batching_parameters_file) as f:
      batching = BatchingParameters.parse(f.read(), args.batching_parameters_file)
  return ServerOptions(
      model_name=args.model_name, model_base_path=args.model_base_path,
      model_config_file=args.model_config_file, host=args.host, port=args.port,
      rest_api_port=args.rest_api_port, enable_batching=args.enable_batching, batching=batching,
      file_system_poll_wait_seconds=args.file_system_poll_wait_seconds,
      max_request_bytes=args.max_request_bytes, max_batch_rows=args.max_batch_rows,
      max_connections=args.max_connections, idle_timeout_seconds=args.idle_timeout_seconds,
      body_timeout_seconds=args.body_timeout_seconds, request_log_dir=args.request_log_dir,
      request_log_rate=args.request_log_rate or (1.0 if args.request_log_dir else 0.0),
      request_log_max_mb=args.request_log_max_mb), args.verbose


def main(argv=None) -> int:
  options, verbose = parse_args(sys.argv[1:] if argv is None else argv)
  logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                      format="%(asctime)s %(name)s %(levelname)s %(message)s")
  try:
    server = LocalModelServer(options).start()
  except (ValueError, OSError) as e:
    print(f"local_server: {e}", file=sys.stderr)
    return 2
  # One parseable line: tests and scripts wait for it to learn the ports.
  print(f"local_server ready grpc={options.host}:{server.grpc_port} "
        f"rest={options.host}:{server.rest_port} models={','.join(server.store.model_names())}", flush=True)
  for name in server.store.model_names():   # said at once, not left for the first request
    if not any(s.state == "AVAILABLE" for s in server.store.states_or_none(name)):
      print(f"local_server: model {name} has no version to serve yet in {server.store.base_path(name)}"
            f"{server.store.why_nothing(name)}; a pushed version is loaded when it appears", file=sys.stderr, flush=True)
  stop = threading.Event()
  signal.signal(signal.SIGTERM, lambda *_: stop.set())
  signal.signal(signal.SIGINT, lambda *_: stop.set())
  stop.wait()
  server.stop()
  return 0


if __name__ == "__main__":
  sys.exit(main())
