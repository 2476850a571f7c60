"""The local model server: a model store, a batcher and the gRPC and REST front ends."""
import dataclasses
import logging
from typing import Optional

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving.local_server import grpc_api, metrics, rest_api
from serving.local_server.batcher import Batcher, BatchingParameters
from serving.local_server.inference import Inference
from serving.local_server.model_store import ModelStore, single_model_config
from serving.local_server.request_log import RequestLog

log = logging.getLogger("local_server")


@dataclasses.dataclass(frozen=True)
class ServerOptions:
  """What tensorflow_model_server takes as flags (same names), plus the stand-in's limits."""
  model_name: str = ""
  model_base_path: str = ""
  model_config_file: str = ""               # a ModelServerConfig text proto (serving/deploy/models.config)
  host: str = "127.0.0.1"                   # loopback unless told otherwise
  port: int = 8500                          # gRPC; 0 picks a free port
  rest_api_port: int = 8501                 # REST; 0 picks a free port, -1 disables
  enable_batching: bool = True
  batching: BatchingParameters = BatchingParameters()
  file_system_poll_wait_seconds: float = 1.0
  settle_seconds: float = 1.0               # a version folder must be unchanged this long
  max_request_bytes: int = 4 * 1024 * 1024  # gRPC message / REST body limit
  max_batch_rows: int = 1024                # rows one request may carry
  max_connections: int = 256                # REST requests in progress / concurrent gRPC calls
  idle_timeout_seconds: float = 30.0        # REST: headers must arrive within this (gRPC: 10x)
  body_timeout_seconds: float = 30.0        # REST: the whole body must arrive within this
  request_timeout_seconds: float = 30.0
  request_log_dir: str = ""                 # a sample of requests and answers as PredictionLogs ("": none)
  request_log_rate: float = 0.0             # the share of requests logged
  request_log_max_mb: int = 64              # the log folder's bound; the oldest file goes first

  def model_server_config(self) -> model_server_config_pb2.ModelServerConfig:
    if self.model_config_file:
      with open(self.model_config_file) as f:
        return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
    if not (self.model_name and self.model_base_path):
      raise ValueError("give --model_name and --model_base_path, or --model_config_file")
    return single_model_config(self.model_name, self.model_base_path)


class LocalModelServer:
  """Start, read the bound ports, stop. Used by the CLI, the tests and the benchmark."""

  def __init__(self, options: ServerOptions):
    self.options = options
    self.metrics = metrics.Metrics()
    self.store = ModelStore(options.model_server_config(), options.file_system_poll_wait_seconds,
                            options.settle_seconds, self.metrics)
    params = options.batching if options.enable_batching else dataclasses.replace(
        options.batching, max_batch_size=1, batch_timeout_micros=0)
    self.batcher = Batcher(params)
    self.request_log = RequestLog(options.request_log_dir, options.request_log_rate,
                                  options.request_log_max_mb * 1024 * 1024) if options.request_log_dir else None
    self.inference = Inference(self.store, self.batcher, options.request_timeout_seconds,
                               options.max_batch_rows, self.request_log)
    self._grpc = None
    self._rest: Optional[rest_api.RestServer] = None
    self.grpc_port = self.rest_port = None

  def start(self) -> "LocalModelServer":
    self.store.start()
    options = self.options
    self._grpc, self.grpc_port = grpc_api.make_server(
        self.inference, options.host, options.port, options.max_request_bytes,
        max_concurrent_rpcs=options.max_connections, idle_timeout_seconds=10 * options.idle_timeout_seconds)
    if options.rest_api_port >= 0:
      limits = rest_api.HttpLimits(
          max_request_bytes=options.max_request_bytes, idle_timeout_seconds=options.idle_timeout_seconds,
          body_timeout_seconds=options.body_timeout_seconds, max_connections=options.max_connections)
      self._rest = rest_api.RestServer(options.host, options.rest_api_port, self.inference, limits,
                                       self.metrics).start()
      self.rest_port = self._rest.port
    return self

  def stop(self) -> None:
    if self._rest:
      self._rest.stop()
    if self._grpc:
      self._grpc.stop(grace=2).wait()
    self.store.stop()
    self.batcher.close()
    if self.request_log:
      self.request_log.close()

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.stop()
