"""One error type for both front ends: a gRPC status code and a message.

gRPC aborts with the code; REST answers TF Serving's {"error": message} body with the
HTTP status TF Serving's HTTP front end maps that code to.
"""
import logging
import uuid

import grpc

log = logging.getLogger("local_server")

_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


class ServingError(Exception):
  """A request the server refuses or could not complete, with its status code."""

  def __init__(self, code: grpc.StatusCode, message: str):
    super().__init__(message)
    self.code = code
    self.message = message

  @property
  def http_status(self) -> int:
    return _HTTP_STATUS.get(self.code, 500)


def invalid(message: str) -> ServingError:
  return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
  return ServingError(grpc.StatusCode.NOT_FOUND, message)


def deadline_exceeded() -> ServingError:
  return ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, "the request's deadline passed while it waited to run")


def internal(error: BaseException, where: str) -> str:
  """Logs an unexpected failure under a fresh incident id and returns what the client may
  see: the id only (no exception text or host paths)."""
  incident = uuid.uuid4().hex[:12]
  log.error("internal error %s on %s", incident, where, exc_info=error)
  return f"internal server error (incident {incident}; see the server log)"
