"""TF Serving's REST API on aiohttp's HTTP server.

  GET  /v1/models/<name>[/versions/<v>|/labels/<l>]             model status
  GET  /v1/models/<name>[/versions/<v>|/labels/<l>]/metadata    signatures
  POST /v1/models/<name>[/versions/<v>|/labels/<l>]:predict     Predict
  POST /v1/models/<name>[/versions/<v>|/labels/<l>]:classify    Classify

  GET  /monitoring/prometheus/metrics                              counters (metrics.py)

aiohttp owns the protocol: its parser refuses malformed framing (a Content-Length that
is not one plain number, duplicates that disagree), the body limit is enforced on the
bytes actually read, and an idle or half-sent connection is closed after
`idle_timeout_seconds`. On top of it: a 400 for an HTTP/0.9 request line (which aiohttp
would wait on), a body deadline, a cap on requests in progress (idle connections do not
count, so they cannot lock other clients out; refusals are counted in the metrics, not
logged one by one), and TF Serving's `{"error": ...}` JSON body for every status,
protocol errors included.
A small POST is decoded on the event loop and a Predict awaits the batcher; inference
otherwise, large bodies, status and metadata run on a thread pool, off the event loop.
"""
import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import re
import threading
from typing import Optional

from aiohttp import web, web_protocol, web_server
from google.protobuf import json_format

from serving.local_server import errors, metrics, rest_json
from serving.local_server.inference import Inference, ModelRef

log = logging.getLogger("local_server")

_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)"
                   r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                   r"(?::(?P<verb>[a-z]+)|/(?P<metadata>metadata))?/?$")
_MAX_VERSION = 2**63 - 1     # ModelSpec.version is an int64
_INLINE_BYTES = 64 * 1024    # POST bodies up to this are decoded on the event loop
_REQUEST_LINE = re.compile(rb"^[!-~]+ [!-~]+ HTTP/\d\.\d\r?$")   # method, target, version
_MAX_REQUEST_LINE = 8190     # aiohttp's own limit


@dataclasses.dataclass(frozen=True)
class HttpLimits:
  """What one client may hold or send (the values: ServerOptions)."""
  max_request_bytes: int
  idle_timeout_seconds: float    # no (complete) request headers for this long: closed
  body_timeout_seconds: float    # the whole body must arrive within this
  max_connections: int           # requests in progress; further ones get 503
  backlog: int = 128             # listen queue


def _json_response(status: int, body: dict, close: bool = False) -> web.Response:
  response = web.Response(status=status, body=json.dumps(body).encode("utf-8"),
                          content_type="application/json")
  if close:
    response.force_close()
  return response


def _raw_json_response(status: int, reason: str, message: str) -> bytes:
  """A whole HTTP/1.1 response, for answering before aiohttp has a request object."""
  body = json.dumps({"error": message}).encode("utf-8")
  return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
          f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("ascii") + body


class _Connection(web_protocol.RequestHandler):
  """aiohttp's per-connection protocol, with an HTTP/0.9 check and JSON protocol errors."""

  _first_line = b""
  _checked = False

  def data_received(self, data: bytes) -> None:
    """A request line without `HTTP/x.y` (HTTP/0.9) ends with one line break, and aiohttp
    would wait for a blank line that never comes: the first line is checked here."""
    if not self._checked:
      self._first_line += data
      line, newline, _ = self._first_line.partition(b"\n")
      if newline or len(self._first_line) > _MAX_REQUEST_LINE:
        self._checked = True
        if newline and not _REQUEST_LINE.match(line):
          self.transport.write(_raw_json_response(
              400, "Bad Request", "malformed HTTP request line: expected 'METHOD /path HTTP/1.1' "
                                  "(HTTP/0.9 requests are not supported)"))
          self.transport.close()
          return
        self._first_line = b""
    super().data_received(data)

  def handle_error(self, request, status: int = 500, exc=None, message=None) -> web.StreamResponse:
    """Malformed requests (aiohttp's parser) and uncaught errors, as TF Serving's JSON body."""
    if status >= 500:
      text = errors.internal(exc, "an HTTP request")
    else:
      text = f"malformed HTTP request: {message or getattr(exc, 'message', None) or exc}"
      log.info("%s", text)
    return _json_response(status, {"error": text}, close=True)


class _Server(web_server.Server):
  """aiohttp's low-level server with our connection class and body limit."""

  def __init__(self, handler, limits: HttpLimits, **kwargs):
    super().__init__(handler, request_factory=self._request, **kwargs)
    self.limits = limits

  def __call__(self) -> _Connection:
    return _Connection(self, loop=self._loop, **self._kwargs)

  def _request(self, message, payload, protocol, writer, task) -> web.BaseRequest:
    return web.BaseRequest(message, payload, protocol, writer, task, self._loop,
                           client_max_size=self.limits.max_request_bytes)


def _route(method: str, path: str):
  match = _PATH.match(path)
  if not match:
    raise errors.not_found(f"Malformed request: {method} {path[:200]} "
                           "(expected /v1/models/<name>[/versions/<v>][:predict|:classify|/metadata])")
  version = None
  if match["version"]:
    if len(match["version"]) > 19 or int(match["version"]) > _MAX_VERSION:
      raise errors.invalid("the version in the URL is not a 64-bit integer")
    version = int(match["version"])
  return ModelRef(match["name"], version, match["label"] or ""), match["verb"], bool(match["metadata"])


def _get(inference: Inference, path: str) -> dict:
  ref, verb, metadata = _route("GET", path)
  if verb:
    raise errors.ServingError(errors.grpc.StatusCode.UNIMPLEMENTED, f"':{verb}' takes POST, not GET")
  if metadata:
    servable, signatures = inference.signature_def_map(ref)
    return {"model_spec": {"name": servable.model_name, "signature_name": "",
                           "version": str(servable.version)},
            "metadata": {"signature_def": json_format.MessageToDict(signatures, preserving_proto_field_name=True)}}
  return json_format.MessageToDict(inference.status(ref), preserving_proto_field_name=True,
                                   always_print_fields_with_no_presence=True)


def _read_post(path: str, raw: bytes) -> tuple[str, ModelRef, dict]:
  """A POST's verb (predict or classify), the model and signature it names, and its body."""
  ref, verb, metadata = _route("POST", path)
  if metadata or verb not in ("predict", "classify"):
    raise errors.ServingError(errors.grpc.StatusCode.UNIMPLEMENTED if verb == "regress" else
                              errors.grpc.StatusCode.NOT_FOUND,
                              f"unsupported method {verb or 'metadata'!r}: use :predict or :classify")
  body = rest_json.parse_body(raw)
  signature_name = body.get("signature_name", "")
  if not isinstance(signature_name, str):
    raise errors.invalid("'signature_name' must be a string")
  return verb, ModelRef(ref.name, ref.version, ref.label, signature_name), body


def _predict_inputs(inference: Inference, ref: ModelRef, body: dict) -> tuple[str, dict]:
  return rest_json.decode_predict(body, inference.servable(ref).signature(ref.signature_name))


def _post(inference: Inference, path: str, raw: bytes) -> dict:
  verb, ref, body = _read_post(path, raw)
  if verb == "classify":
    _, _, results = inference.classify(ref, rest_json.decode_classify(body))
    return rest_json.encode_classify(results)
  fmt, inputs = _predict_inputs(inference, ref, body)
  _, _, outputs = inference.predict(ref, inputs)
  return rest_json.encode_predict(fmt, outputs)


def _error(error: Exception, method: str, path: str) -> tuple[int, dict]:
  """A failed request's status and TF Serving's {"error": ...} body."""
  if isinstance(error, errors.ServingError):
    return error.http_status, {"error": error.message}
  return 500, {"error": errors.internal(error, f"{method} {path[:200]}")}


def _answer(inference: Inference, method: str, path: str, raw: Optional[bytes]) -> tuple[int, bytes]:
  """The whole request after its body arrived: (status, JSON body). Runs on the pool."""
  try:
    status, body = 200, (_get(inference, path) if method == "GET" else _post(inference, path, raw))
  except Exception as e:  # pylint: disable=broad-except  # ServingError or a server fault
    status, body = _error(e, method, path)
  return status, json.dumps(body).encode("utf-8")


class RestServer:
  """The REST front end: an event loop on its own thread, inference on a pool."""

  def __init__(self, host: str, port: int, inference: Inference, limits: HttpLimits,
               counters: metrics.Metrics, workers: int = 16):
    self.host, self.port = host, port
    self.inference = inference
    self.limits = limits
    self.metrics = counters
    self._active = 0     # requests in progress (touched on the event loop only)
    self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="rest")
    self._loop = asyncio.new_event_loop()
    self._thread: Optional[threading.Thread] = None
    self._runner: Optional[web.ServerRunner] = None

  async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
    if request.rel_url.raw_path == metrics.METRICS_PATH and request.method == "GET":
      return web.Response(status=200, text=self.metrics.render(), content_type="text/plain")  # never capped
    if self._active >= self.limits.max_connections:
      self.metrics.increment(metrics.REFUSED_REQUESTS, api="rest", reason="requests_in_progress")
      response = _json_response(503, {"error": f"{self._active} requests are in progress, the most "
                                               "this server takes; retry later"})
      response.headers["Retry-After"] = "1"
      return response
    self._active += 1
    try:
      return await self._handle_one(request)
    finally:
      self._active -= 1

  async def _handle_one(self, request: web.BaseRequest) -> web.StreamResponse:
    if request.version < (1, 0):
      return _json_response(400, {"error": "HTTP/0.9 requests are not supported: send HTTP/1.1"}, close=True)
    if request.method not in ("GET", "POST"):
      return _json_response(405, {"error": f"method {request.method} is not supported: use GET or POST"})
    raw = None
    if request.method == "POST":
      try:
        raw = await asyncio.wait_for(request.read(), self.limits.body_timeout_seconds)
      except web.HTTPRequestEntityTooLarge:
        return _json_response(413, {"error": f"the request body exceeds the limit of "
                                             f"{self.limits.max_request_bytes} bytes"}, close=True)
      except ConnectionError:   # the client left mid-body: nobody to answer, nothing to log
        self.metrics.increment(metrics.REFUSED_REQUESTS, api="rest", reason="client_left")
        return _json_response(400, {"error": "the connection closed before the body arrived"}, close=True)
      except asyncio.TimeoutError:
        return _json_response(408, {"error": f"the request body did not arrive within "
                                             f"{self.limits.body_timeout_seconds:g} s"}, close=True)
    path = request.rel_url.raw_path
    if raw is not None and len(raw) <= _INLINE_BYTES:
      return await self._post_on_loop(path, raw)
    status, payload = await self._loop.run_in_executor(self._pool, _answer, self.inference, request.method, path, raw)
    return web.Response(status=status, body=payload, content_type="application/json")

  async def _post_on_loop(self, path: str, raw: bytes) -> web.Response:
    """A small POST decoded on the event loop. A batchable Predict awaits the batcher's
    future (no thread hop of its own); Classify and other signatures run on the pool."""
    try:
      verb, ref, body = _read_post(path, raw)
      if verb == "classify":
        examples = rest_json.decode_classify(body)
        _, _, results = await self._loop.run_in_executor(self._pool, self.inference.classify, ref, examples)
        return _json_response(200, rest_json.encode_classify(results))
      fmt, inputs = _predict_inputs(self.inference, ref, body)
      future = self.inference.submit_predict(ref, inputs)
      if future is None:
        _, _, outputs = await self._loop.run_in_executor(self._pool, self.inference.predict, ref, inputs)
      else:
        try:
          outputs = await asyncio.wait_for(asyncio.wrap_future(future), self.inference.timeout_seconds)
        except asyncio.TimeoutError:
          raise errors.deadline_exceeded() from None
      status, body = 200, rest_json.encode_predict(fmt, outputs)
    except Exception as e:  # pylint: disable=broad-except  # ServingError or a server fault
      status, body = _error(e, "POST", path)
    return _json_response(status, body)

  async def _open(self) -> None:
    server = _Server(self._handle, self.limits, loop=self._loop, access_log=None,
                     keepalive_timeout=self.limits.idle_timeout_seconds, lingering_time=2.0)
    self._runner = web.ServerRunner(server, handle_signals=False)
    await self._runner.setup()
    site = web.TCPSite(self._runner, self.host, self.port, backlog=self.limits.backlog, reuse_address=True)
    await site.start()
    self.port = self._runner.addresses[0][1]

  def start(self) -> "RestServer":
    opened = concurrent.futures.Future()

    def run():
      asyncio.set_event_loop(self._loop)
      try:
        self._loop.run_until_complete(self._open())
      except BaseException as e:  # pylint: disable=broad-except  # reported to start()
        opened.set_exception(e)
        return
      opened.set_result(None)
      self._loop.run_forever()

    self._thread = threading.Thread(target=run, name="rest", daemon=True)
    self._thread.start()
    opened.result()
    return self

  def stop(self) -> None:
    if self._runner is not None and self._loop.is_running():
      asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
      self._loop.call_soon_threadsafe(self._loop.stop)
    if self._thread is not None:
      self._thread.join(timeout=10)
    self._pool.shutdown(wait=False, cancel_futures=True)
