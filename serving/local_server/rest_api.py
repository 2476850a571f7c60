"""TF Serving's REST API on the standard library's threading HTTP server.

  GET  /v1/models/<name>[/versions/<v>|/labels/<l>]             model status
  GET  /v1/models/<name>[/versions/<v>|/labels/<l>]/metadata    signatures
  POST /v1/models/<name>[/versions/<v>|/labels/<l>]:predict     Predict
  POST /v1/models/<name>[/versions/<v>|/labels/<l>]:classify    Classify
"""
import http.server
import json
import logging
import re
import threading

from google.protobuf import json_format

from serving.local_server import errors, rest_json
from serving.local_server.inference import Inference, ModelRef

log = logging.getLogger("local_server")

_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)"
                   r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                   r"(?::(?P<verb>[a-z]+)|/(?P<metadata>metadata))?/?$")


class _Handler(http.server.BaseHTTPRequestHandler):
  protocol_version = "HTTP/1.1"          # keep-alive, as TF Serving's HTTP server
  disable_nagle_algorithm = True         # no 40 ms delayed-ACK stall between header and body
  server: "RestServer"

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    log.debug("%s %s", self.address_string(), format % args)

  # --- routing ------------------------------------------------------------------
  def _route(self):
    match = _PATH.match(self.path.split("?", 1)[0])
    if not match:
      raise errors.not_found(f"Malformed request: {self.command} {self.path} "
                             "(expected /v1/models/<name>[/versions/<v>][:predict|:classify|/metadata])")
    version = int(match["version"]) if match["version"] else None
    return ModelRef(match["name"], version, match["label"] or ""), match["verb"], bool(match["metadata"])

  def do_GET(self):  # pylint: disable=invalid-name
    self._answer(self._get)

  def do_POST(self):  # pylint: disable=invalid-name
    self._answer(self._post)

  def _answer(self, handler):
    try:
      status, body = 200, handler()
    except errors.ServingError as e:
      status, body = e.http_status, {"error": e.message}
    except Exception as e:  # pylint: disable=broad-except
      log.exception("internal error")
      status, body = 500, {"error": f"{type(e).__name__}: {e}"}
    payload = json.dumps(body).encode("utf-8")
    self.send_response(status)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(payload)))
    if self.close_connection:
      self.send_header("Connection", "close")
    self.end_headers()
    self.wfile.write(payload)

  # --- GET ------------------------------------------------------------------------
  def _get(self):
    ref, verb, metadata = self._route()
    if verb:
      raise errors.ServingError(errors.grpc.StatusCode.UNIMPLEMENTED,
                                f"':{verb}' takes POST, not GET")
    inference = self.server.inference
    if metadata:
      servable, signatures = inference.signature_def_map(ref)
      return {"model_spec": {"name": servable.model_name, "signature_name": "",
                             "version": str(servable.version)},
              "metadata": {"signature_def": json_format.MessageToDict(signatures, preserving_proto_field_name=True)}}
    return json_format.MessageToDict(inference.status(ref), preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)

  # --- POST -----------------------------------------------------------------------
  def _read_json(self):
    length = self.headers.get("Content-Length")
    if length is None:
      self.close_connection = True
      raise errors.ServingError(errors.grpc.StatusCode.INVALID_ARGUMENT,
                                "a request body with Content-Length is required")
    length = int(length)
    if length > self.server.max_request_bytes:
      self.close_connection = True   # the unread body must not be parsed as the next request
      raise errors.ServingError(errors.grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"request body of {length} bytes exceeds the limit of "
                                f"{self.server.max_request_bytes} bytes")
    raw = self.rfile.read(length)
    try:
      body = json.loads(raw)
    except UnicodeDecodeError:
      raise errors.invalid("the request body is not UTF-8") from None
    except json.JSONDecodeError as e:
      raise errors.invalid(f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    if not isinstance(body, dict):
      raise errors.invalid("the request body must be a JSON object")
    return body

  def _post(self):
    body = self._read_json()
    ref, verb, metadata = self._route()
    if metadata or verb not in ("predict", "classify"):
      raise errors.ServingError(errors.grpc.StatusCode.UNIMPLEMENTED if verb == "regress" else
                                errors.grpc.StatusCode.NOT_FOUND,
                                f"unsupported method {verb or 'metadata'!r}: use :predict or :classify")
    signature_name = body.get("signature_name", "")
    if not isinstance(signature_name, str):
      raise errors.invalid("'signature_name' must be a string")
    ref = ModelRef(ref.name, ref.version, ref.label, signature_name)
    inference = self.server.inference
    if verb == "classify":
      _, _, results = inference.classify(ref, rest_json.decode_classify(body))
      return rest_json.encode_classify(results)
    signature = inference.servable(ref).signature(signature_name)
    fmt, inputs = rest_json.decode_predict(body, signature)
    _, _, outputs = inference.predict(ref, inputs)
    return rest_json.encode_predict(fmt, outputs)


class RestServer(http.server.ThreadingHTTPServer):
  daemon_threads = True
  allow_reuse_address = True

  def __init__(self, address, inference: Inference, max_request_bytes: int):
    self.inference = inference
    self.max_request_bytes = max_request_bytes
    super().__init__(address, _Handler)

  def start(self) -> threading.Thread:
    thread = threading.Thread(target=self.serve_forever, name="rest", daemon=True)
    thread.start()
    return thread
