"""A bounded fuzz and soak of the local server, on loopback only, with fixed counts.

    make bench-soak                          # the newest push in outputs/serving/imdb_sentiment
    make bench-soak ARGS="--rounds 5 --reloads 20"

It starts `python -m serving.local_server` in its own process on a copy of the pushed
model, measures p50 latency and the server's memory, then replays every hostile-client
probe class of issue 10 (`--rounds` times each), pushes `--reloads` new versions (and a
broken one) while two clients send valid requests, and measures again. Results go to
benchmarks/serving_soak_results.md: requests by outcome per probe class, 5xx answers
(target 0), server crashes (target 0), failed valid requests during reloads (target 0),
memory and p50 before and after.
"""
import argparse
import collections
import concurrent.futures
import datetime
import os
import pathlib
import shutil
import socket
import sys
import tempfile
import threading
import time

import grpc
import psutil
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from benchmarks.serving_bench import latest_push, percentile_ms, reviews
from pipeline.config import REPO_ROOT, PipelineConfig
from serving.clients.rest_client import RestClient
from serving.local_server.launch import server_process

RESULTS = REPO_ROOT / "benchmarks" / "serving_soak_results.md"
MAX_BODY = 4 * 1024 * 1024


# --- REST probes: raw bytes on a fresh connection; the outcome is the status or "closed" --
def _raw(host, port, data: bytes, timeout: float = 10.0, linger: float = 0.0) -> str:
  try:
    with socket.create_connection((host, port), timeout=timeout) as sock:
      if data:
        sock.sendall(data)
      if linger:
        time.sleep(linger)
      head = sock.recv(64)
  except (ConnectionResetError, BrokenPipeError):
    return "reset"
  except socket.timeout:
    return "hung"
  if not head:
    return "closed"
  return head.split(b" ", 2)[1].decode("ascii", "replace") if head.startswith(b"HTTP/") else "garbage"


def _post(path: str, body: bytes, headers: str = None) -> bytes:
  headers = headers if headers is not None else f"Content-Length: {len(body)}\r\n"
  return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}\r\n").encode() + body


def rest_probes(model: str) -> dict:
  """Probe class -> raw request bytes (several per class)."""
  predict = f"/v1/models/{model}:predict"
  ok = b'{"signature_name": "serving_text", "instances": ["fine"]}'
  return {
      "Content-Length -1 / abc / +2 / duplicate": [
          _post(predict, ok, "Content-Length: -1\r\n"), _post(predict, ok, "Content-Length: abc\r\n"),
          _post(predict, ok, "Content-Length: +2\r\n"),
          _post(predict, ok, "Content-Length: 2\r\nContent-Length: 40\r\n")],
      "smuggled second request": [_post(predict, ok + b"GET /v1/models/x HTTP/1.1\r\nHost: x\r\n\r\n",
                                        "Content-Length: 2\r\n")],
      "JSON nested 10,000 deep": [_post(predict, b'{"instances": ' + b"[" * 10000 + b"]" * 10000 + b"}")],
      "number of 5,000 digits": [_post(predict, b'{"instances": [' + b"9" * 5000 + b"]}")],
      "lone surrogates (value, key, feature)": [
          _post(predict, b'{"signature_name": "serving_text", "instances": ["\\ud800"]}'),
          _post(predict, b'{"instances": [{"\\ud800": "x"}]}'),
          _post(f"/v1/models/{model}:classify", b'{"signature_name": "classify", "examples": [{"text": "\\udfff"}]}')],
      "classify int 2**63 / 2**70": [
          _post(f"/v1/models/{model}:classify", b'{"signature_name": "classify", "examples": [{"text": %d}]}' % v)
          for v in (2**63, 2**70)],
      "URL version of 5,000 digits": [f"GET /v1/models/{model}/versions/{'9' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()],
      "path tricks": [f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in (
          f"/v1/models/{model}/../../etc/passwd", "/v1/models/%2e%2e%2f%2e%2e/metadata", f"/v1/models/{model}/versions/-1",
          "/" + "a" * 10000)],
      "malformed JSON / not an object / empty": [_post(predict, b'{"instances": ['), _post(predict, b"[1]"),
                                                  _post(predict, b"")],
      "unknown input key": [_post(predict, b'{"signature_name": "serving_text", "instances": [{"txt": "x"}]}')],
      "too many rows": [_post(predict, b'{"signature_name": "serving_text", "instances": ['
                              + b",".join([b'"x"'] * 1025) + b"]}")],
      "oversized body (10x limit)": [_post(predict, b"x" * (10 * MAX_BODY))],
      "HTTP/0.9 request line": [b"GET /v1/models/x\r\n\r\n"],
      "other methods": [f"{m} /v1/models/{model} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
                        for m in ("PUT", "DELETE", "PATCH", "OPTIONS")],
      "binary garbage": [bytes(range(256)) * 4 + b"\r\n\r\n"],
  }


# --- gRPC probes: the outcome is the status code name -----------------------------------
def _tensor(dtype, dims, **values):
  t = tensor_pb2.TensorProto(dtype=dtype, **values)
  for d in dims:
    t.tensor_shape.dim.add(size=d)
  return t


def grpc_probes() -> dict:
  return {
      "dims [1, 2e9] with no values": [_tensor(types_pb2.DT_STRING, [1, 2_000_000_000])],
      "dims [N] with no values": [_tensor(types_pb2.DT_STRING, [100_000])],
      "negative dims": [_tensor(types_pb2.DT_STRING, [-1], string_val=[b"x"])],
      "content shorter than dims": [_tensor(types_pb2.DT_FLOAT, [4], tensor_content=b"\0" * 7)],
      "unsupported dtype": [_tensor(types_pb2.DT_COMPLEX64, [1], scomplex_val=[0.0, 0.0])],
      "too many rows": [tf.make_tensor_proto([b"x"] * 1025)],
      "oversized message": [tf.make_tensor_proto([b"x" * (MAX_BODY + 10)])],
  }


def grpc_outcome(stub, model: str, tensor, version: int = None) -> str:
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model
  request.model_spec.signature_name = "serving_text"
  if version is not None:
    request.model_spec.version.value = version
  request.inputs["text"].CopyFrom(tensor)
  try:
    stub.Predict(request, timeout=30)
    return "OK"
  except grpc.RpcError as e:
    return e.code().name


def server_pid(port: int) -> int:
  for c in psutil.net_connections("tcp"):
    if c.status == "LISTEN" and c.laddr.port == port and c.pid:
      return c.pid
  raise RuntimeError(f"no process listens on port {port}")


def rss_mb(pid: int) -> float:
  return psutil.Process(pid).memory_info().rss / 2**20


def p50_ms(client, texts, n: int) -> float:
  for _ in range(10):
    client.predict_text(texts[:1])
  out = []
  for i in range(n):
    start = time.perf_counter()
    client.predict_text([texts[i % len(texts)]])
    out.append(time.perf_counter() - start)
  return percentile_ms(out, 50)


def wait_for_version(client, version: int, timeout: float = 180) -> None:
  deadline = time.time() + timeout
  while time.time() < deadline:
    try:
      if (version, "AVAILABLE") in client.status():
        return
    except Exception:  # pylint: disable=broad-except  # not loaded yet
      pass
    time.sleep(0.2)
  raise RuntimeError(f"version {version} was not served within {timeout} s")


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model-base-path", default=PipelineConfig(name="imdb-sentiment").serving_model_dir)
  p.add_argument("--rounds", type=int, default=5, help="times each probe class is replayed")
  p.add_argument("--reloads", type=int, default=20, help="new versions pushed under load (load/unload cycles)")
  p.add_argument("--latency-requests", type=int, default=300)
  args = p.parse_args(argv)
  source = latest_push(pathlib.Path(args.model_base_path))
  model = pathlib.Path(args.model_base_path).name
  texts = reviews(32)
  outcomes = collections.defaultdict(collections.Counter)
  work = pathlib.Path(tempfile.mkdtemp(prefix="soak-"))
  base = work / model
  shutil.copytree(source, base / "1")
  try:
    with server_process(model, str(base), ["--idle_timeout_seconds=2", "--body_timeout_seconds=5",
                                           "--file_system_poll_wait_seconds=0.5"]) as (grpc_target, rest_url):
      host, port = rest_url.split("//")[1].split(":")
      port = int(port)
      pid = server_pid(port)
      rest = RestClient(rest_url, model, timeout=60)
      wait_for_version(rest, 1)
      p50_before, mem_before = p50_ms(rest, texts, args.latency_requests), rss_mb(pid)
      print(f"[soak] before: p50 {p50_before:.2f} ms, server RSS {mem_before:.0f} MB", flush=True)

      for _ in range(args.rounds):
        for name, requests in rest_probes(model).items():
          for data in requests:
            outcomes[f"REST: {name}"][_raw(host, port, data)] += 1
        outcomes["REST: idle connection"][_raw(host, port, b"", timeout=30)] += 1
        outcomes["REST: half-sent request line"][_raw(host, port, b"POST /v1/models/x:pre", timeout=30)] += 1
        outcomes["REST: half-sent body"][_raw(host, port, _post(f"/v1/models/{model}:predict", b"{",
                                                                 "Content-Length: 100\r\n"), timeout=30)] += 1
        with grpc.insecure_channel(grpc_target, options=[("grpc.max_send_message_length", -1)]) as channel:
          stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
          for name, tensors in grpc_probes().items():
            for tensor in tensors:
              outcomes[f"gRPC: {name}"][grpc_outcome(stub, model, tensor)] += 1
          for version in (0, -1, 2**63 - 1):
            outcomes["gRPC: odd versions"][grpc_outcome(stub, model, tf.make_tensor_proto([b"x"]), version)] += 1

      # Reloads under load: two clients pinned to nothing and to the current version.
      stop, valid = threading.Event(), collections.Counter()

      def client_loop():
        client = RestClient(rest_url, model, timeout=60)
        while not stop.is_set():
          try:
            client.predict_text(texts[:2])
            valid["ok"] += 1
          except Exception as e:  # pylint: disable=broad-except
            valid[type(e).__name__] += 1

      with concurrent.futures.ThreadPoolExecutor(2) as pool:
        loops = [pool.submit(client_loop) for _ in range(2)]
        mem_cycles = []
        for version in range(2, args.reloads + 2):
          if version == args.reloads // 2 + 1:   # a broken push half-way
            (base / "900").mkdir()
            (base / "900" / "saved_model.pb").write_bytes(b"junk")
          staging = work / f"staging-{version}"
          shutil.copytree(source, staging)
          os.rename(staging, base / str(version))   # as a Pusher's atomic rename
          wait_for_version(rest, version)
          mem_cycles.append(rss_mb(pid))
          print(f"[soak] version {version} served; server RSS {mem_cycles[-1]:.0f} MB", flush=True)
        stop.set()
        for f in loops:
          f.result()
      shutil.rmtree(base / "900", ignore_errors=True)
      time.sleep(2)
      p50_after, mem_after = p50_ms(rest, texts, args.latency_requests), rss_mb(pid)
      crashed = not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
      print(f"[soak] after: p50 {p50_after:.2f} ms, server RSS {mem_after:.0f} MB", flush=True)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  write_results(outcomes, valid, mem_cycles, (p50_before, p50_after), (mem_before, mem_after), crashed, args, source)
  return 0


def write_results(outcomes, valid, mem_cycles, p50s, mems, crashed, args, source) -> None:
  five_xx = sum(n for c in outcomes.values() for k, n in c.items() if k.startswith("5") and k != "503")
  lines = [
      "# Serving fuzz and soak\n",
      f"Written by `make bench-soak` (benchmarks/serving_soak.py) on {datetime.date.today()}, "
      f"{os.cpu_count()} cores, loopback only. Model: a copy of `{source.name}` from "
      f"`outputs/serving/{source.parent.name}`. Each probe class replayed {args.rounds} times; then "
      f"{args.reloads} new versions pushed (and one broken version) while two REST clients sent valid "
      "requests. Outcomes: the HTTP status, `closed` (the server closed the connection without an "
      "answer), `reset`, `hung` (no answer in 10 to 30 s), or the gRPC status code.\n",
      "| probe class | outcomes |", "|---|---|"]
  lines += [f"| {name} | {', '.join(f'{k}: {n}' for k, n in sorted(c.items()))} |" for name, c in outcomes.items()]
  lines += [
      "", "| measure | before | after |", "|---|---|---|",
      f"| REST batch-1 p50 (ms) | {p50s[0]:.2f} | {p50s[1]:.2f} |",
      f"| server RSS (MB) | {mems[0]:.0f} | {mems[1]:.0f} |",
      "", "| total | value |", "|---|---|",
      f"| probe answers 5xx other than 503 (target 0) | {five_xx} |",
      f"| server crashes (target 0) | {int(crashed)} |",
      f"| valid requests during reloads: ok / failed (target 0 failed) | {valid['ok']} / "
      f"{sum(n for k, n in valid.items() if k != 'ok')} |",
      f"| server RSS after each of the {len(mem_cycles)} reloads (MB) | "
      f"{', '.join(f'{m:.0f}' for m in mem_cycles)} |", ""]
  RESULTS.write_text("\n".join(lines))
  print(f"\n[soak] wrote {RESULTS}")


if __name__ == "__main__":
  sys.exit(main())
