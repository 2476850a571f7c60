"""TF Serving's REST JSON formats, decoded to numpy and encoded back.

Predict: row format {"instances": [...]} answered with {"predictions": [...]}, or
columnar {"inputs": ...} answered with {"outputs": ...}; a signature with one input
takes bare values, several inputs take objects keyed by input name; binary strings
travel as {"b64": "..."}. Classify: {"examples": [{feature: value}], "context": {...}}
answered with {"result": [[[label, score], ...], ...]}.
"""
import base64
import binascii
import json
from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from serving.local_server import errors
from serving.local_server.servable import Signature

ROW, COLUMNAR = "instances", "inputs"
MAX_DEPTH = 64          # JSON nesting a request may use (a tensor of rank 60 and its wrapping)
MAX_INT_DIGITS = 20     # an int64 has at most 19 digits and a sign
_INT64 = (-2**63, 2**63 - 1)


def _parse_int(text: str) -> int:
  if len(text.lstrip("-")) > MAX_INT_DIGITS:
    raise errors.invalid(f"a number in the body has {len(text)} digits; integers are 64-bit")
  return int(text)


def parse_body(raw: bytes) -> dict:
  """The request body as a JSON object, or INVALID_ARGUMENT naming what is wrong and where.

  Beyond json.loads: nesting at most MAX_DEPTH, integers of at most MAX_INT_DIGITS digits
  and strings (keys included) that are valid Unicode, so nothing later fails on them."""
  if not raw:
    raise errors.invalid("the request needs a JSON body")
  try:
    body = json.loads(raw, parse_int=_parse_int)
  except UnicodeDecodeError:
    raise errors.invalid("the request body is not UTF-8") from None
  except json.JSONDecodeError as e:
    raise errors.invalid(f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
  except RecursionError:
    raise errors.invalid(f"the JSON body is nested more than {MAX_DEPTH} levels deep") from None
  if not isinstance(body, dict):
    raise errors.invalid("the request body must be a JSON object")
  _check_tree(body)
  return body


def _check_tree(body: dict) -> None:
  """Depth and Unicode of every value, iteratively (no recursion for a hostile depth)."""
  stack = [(body, "body", 1)]
  while stack:
    value, where, depth = stack.pop()
    if depth > MAX_DEPTH:
      raise errors.invalid(f"the JSON body is nested more than {MAX_DEPTH} levels deep (at {where})")
    if isinstance(value, str):
      _check_unicode(value, where)
    elif isinstance(value, dict):
      for key, item in value.items():
        _check_unicode(key, f"a key in {where}")
        stack.append((item, f"{where}.{key}", depth + 1))
    elif isinstance(value, list):
      stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))


def _check_unicode(text: str, where: str) -> None:
  try:
    text.encode("utf-8")
  except UnicodeEncodeError as e:
    raise errors.invalid(f"{ascii(where)[1:-1]}: the string holds a lone surrogate (\\u{ord(text[e.start]):04x}), "
                         "not valid Unicode") from None


def _to_bytes(value: Any, where: str):
  if isinstance(value, str):
    return value.encode("utf-8")
  if isinstance(value, dict) and set(value) == {"b64"}:
    try:
      return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, TypeError):
      raise errors.invalid(f"{where}: 'b64' value is not valid base64") from None
  if isinstance(value, list):
    return [_to_bytes(v, where) for v in value]
  raise errors.invalid(f"{where} expects string, got {_json_type(value)}")


def _json_type(value: Any) -> str:
  return {bool: "bool", int: "number", float: "number", dict: "object", list: "list",
          type(None): "null"}.get(type(value), type(value).__name__)


def to_array(value: Any, spec: tf.TensorSpec, where: str) -> np.ndarray:
  """A JSON value as the numpy array a TensorSpec takes, or INVALID_ARGUMENT."""
  if spec.dtype == tf.string:
    converted = _to_bytes(value, where)
    try:
      array = np.array(converted, dtype=object)
    except ValueError:
      array = None
    if array is None or any(isinstance(x, list) for x in array.ravel()):
      raise errors.invalid(f"{where}: ragged lists are not a tensor")
    return array
  if _contains_string(value):
    raise errors.invalid(f"{where} expects {spec.dtype.name}, got string")
  try:
    return np.asarray(value, dtype=spec.dtype.as_numpy_dtype)
  except (ValueError, TypeError, OverflowError) as e:
    raise errors.invalid(f"{where}: cannot read as a {spec.dtype.name} tensor ({e})") from None


def _keyed(instance: Any) -> bool:
  """An object keyed by input names (not a {"b64": ...} value)."""
  return isinstance(instance, dict) and set(instance) != {"b64"}


def _contains_string(value: Any) -> bool:
  if isinstance(value, (str, dict)):
    return True
  return isinstance(value, list) and any(_contains_string(v) for v in value)


def decode_predict(body: Mapping, signature: Signature) -> tuple[str, dict]:
  """Returns the format (ROW or COLUMNAR) and the inputs as numpy arrays."""
  has_rows, has_columns = ROW in body, COLUMNAR in body
  if has_rows == has_columns:
    raise errors.invalid("the request must have exactly one of 'instances' (row format) "
                         "or 'inputs' (columnar format)")
  names = list(signature.inputs)
  if has_rows:
    instances = body[ROW]
    if not isinstance(instances, list):
      raise errors.invalid("'instances' must be a list")
    if not instances:
      raise errors.invalid("'instances' is empty: send at least one instance")
    if len(names) == 1 and not _keyed(instances[0]):
      columns = {names[0]: instances}
    else:
      for i, instance in enumerate(instances):
        if not isinstance(instance, dict) or set(instance) != set(names):
          keys = set(instance) if isinstance(instance, dict) else set()
          raise errors.invalid(
              f"instances[{i}] must be an object with keys {names} (signature '{signature.name}')"
              + (f"; unknown {sorted(keys - set(names))}" if keys - set(names) else "")
              + (f"; missing {sorted(set(names) - keys)}" if keys and set(names) - keys else ""))
      columns = {n: [inst[n] for inst in instances] for n in names}
    return ROW, {n: to_array(v, signature.inputs[n], f"input '{n}'") for n, v in columns.items()}
  inputs = body[COLUMNAR]
  if len(names) == 1 and not _keyed(inputs):
    inputs = {names[0]: inputs}
  if not isinstance(inputs, dict):
    raise errors.invalid(f"'inputs' must be an object keyed by input name {names}")
  unknown = sorted(set(inputs) - set(names))
  if unknown:
    raise errors.invalid(f"signature '{signature.name}' takes inputs {names}; unknown {unknown}")
  return COLUMNAR, {n: to_array(v, signature.inputs[n], f"input '{n}'")
                    for n, v in inputs.items() if n in signature.inputs}


def _json_value(array: np.ndarray):
  if array.dtype.kind in ("O", "S"):
    return _json_strings(array.tolist())
  return array.tolist()


def _json_strings(value):
  if isinstance(value, list):
    return [_json_strings(v) for v in value]
  if isinstance(value, bytes):
    try:
      return value.decode("utf-8")
    except UnicodeDecodeError:
      return {"b64": base64.b64encode(value).decode("ascii")}
  return value


def encode_predict(fmt: str, outputs: Mapping[str, np.ndarray]) -> dict:
  names = sorted(outputs)
  if fmt == COLUMNAR:
    if len(names) == 1:
      return {"outputs": _json_value(outputs[names[0]])}
    return {"outputs": {n: _json_value(outputs[n]) for n in names}}
  if len(names) == 1:
    return {"predictions": _json_value(outputs[names[0]])}
  rows = len(next(iter(outputs.values())))
  columns = {n: _json_value(outputs[n]) for n in names}
  return {"predictions": [{n: columns[n][i] for n in names} for i in range(rows)]}


def _feature(value: Any, where: str) -> tf.train.Feature:
  values = value if isinstance(value, list) else [value]
  if not values:
    return tf.train.Feature()
  if all(isinstance(v, (str, dict)) for v in values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[_to_bytes(v, where) for v in values]))
  if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
    if any(not _INT64[0] <= v <= _INT64[1] for v in values):
      raise errors.invalid(f"{where}: an integer is outside the int64 range")
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
  if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))
  raise errors.invalid(f"{where}: values must be all strings, all integers or all numbers")


def decode_classify(body: Mapping) -> list[bytes]:
  """Serialized tf.Examples from {"examples": [...], "context": {...}}."""
  examples = body.get("examples")
  if not isinstance(examples, list) or not examples:
    raise errors.invalid("'examples' must be a non-empty list of objects")
  context = body.get("context", {})
  if not isinstance(context, dict):
    raise errors.invalid("'context' must be an object")
  serialized = []
  for i, example in enumerate(examples):
    if not isinstance(example, dict):
      raise errors.invalid(f"examples[{i}] must be an object of feature name to value")
    features = {**context, **example}
    proto = tf.train.Example(features=tf.train.Features(feature={
        k: _feature(v, f"examples[{i}].{k}") for k, v in features.items()}))
    serialized.append(proto.SerializeToString())
  return serialized


def encode_classify(results: list) -> dict:
  return {"result": [[[label, score] for label, score in pairs] for pairs in results]}
