"""Server-side batching: concurrent requests to one signature of one version run as one call.

The knobs are TF Serving's BatchingParameters (max_batch_size, batch_timeout_micros,
num_batch_threads, max_enqueued_batches). A batch thread takes the oldest request,
adds queued requests for the same signature and version until max_batch_size rows,
and waits for more at most batch_timeout_micros after the first arrived. With a
timeout of 0 it never waits: a lone request runs at once, and requests that pile up
while a batch runs form the next batch.
"""
import dataclasses
import re
import threading
import time
from concurrent import futures
from typing import Mapping

import numpy as np

from serving.local_server import errors
from serving.local_server.servable import Servable, Signature


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
  max_batch_size: int = 32
  batch_timeout_micros: int = 0
  num_batch_threads: int = 2
  max_enqueued_batches: int = 64

  @classmethod
  def parse(cls, text: str, source: str = "batching parameters") -> "BatchingParameters":
    """Reads TF Serving's --batching_parameters_file text format (`name { value: N }`)."""
    values = {}
    body = re.sub(r"#.*", "", text)
    for name, value in re.findall(r"(\w+)\s*\{\s*value\s*:\s*(\d+)\s*\}", body):
      if name not in {f.name for f in dataclasses.fields(cls)}:
        raise ValueError(f"{source}: unsupported field '{name}' (supported: "
                         f"{', '.join(f.name for f in dataclasses.fields(cls))})")
      values[name] = int(value)
    leftover = re.sub(r"(\w+)\s*\{\s*value\s*:\s*\d+\s*\}", "", body).strip()
    if leftover:
      raise ValueError(f"{source}: cannot parse {leftover[:60]!r}")
    return cls(**values)


@dataclasses.dataclass
class _Task:
  servable: Servable
  signature: Signature
  inputs: Mapping[str, np.ndarray]
  rows: int
  future: futures.Future
  enqueued: float

  @property
  def key(self):
    return (id(self.servable), self.signature.name)


class Batcher:
  """Runs signature calls on batch threads, merging concurrent ones."""

  def __init__(self, params: BatchingParameters = BatchingParameters()):
    self.params = params
    self._queue: list[_Task] = []
    self._cond = threading.Condition()
    self._closed = False
    self.stats = {"requests": 0, "batches": 0}   # model calls made for batched requests
    self._threads = [threading.Thread(target=self._work, name=f"batch-{i}", daemon=True)
                     for i in range(max(1, params.num_batch_threads))]
    for t in self._threads:
      t.start()

  def run(self, servable: Servable, signature: Signature, inputs: Mapping[str, np.ndarray],
          rows: int, timeout: float = None) -> dict:
    """Runs (or batches) one validated request and returns its outputs."""
    if not signature.batchable:
      return signature.run(inputs)
    try:
      return self.submit(servable, signature, inputs, rows).result(timeout)
    except futures.TimeoutError:
      raise errors.deadline_exceeded() from None

  def submit(self, servable: Servable, signature: Signature, inputs: Mapping[str, np.ndarray],
             rows: int) -> futures.Future:
    """Queues one validated request of a batchable signature; its outputs arrive in the
    future (an event loop awaits it without a thread of its own)."""
    task = _Task(servable, signature, inputs, rows, futures.Future(), time.monotonic())
    with self._cond:
      if self._closed:
        raise errors.ServingError(errors.grpc.StatusCode.UNAVAILABLE, "server is shutting down")
      if len(self._queue) >= self.params.max_enqueued_batches * self.params.max_batch_size:
        raise errors.ServingError(errors.grpc.StatusCode.UNAVAILABLE,
                                  "the batch queue is full; retry later")
      self._queue.append(task)
      self._cond.notify()
    return task.future

  def close(self) -> None:
    with self._cond:
      self._closed = True
      self._cond.notify_all()
    for t in self._threads:
      t.join(timeout=10)

  def _take_batch(self) -> list[_Task]:
    """Blocks for the next batch (empty list when closed)."""
    with self._cond:
      while not self._queue and not self._closed:
        self._cond.wait()
      if not self._queue:
        return []
      first = self._queue.pop(0)
      batch, rows = [first], first.rows
      deadline = first.enqueued + self.params.batch_timeout_micros / 1e6
      while rows < self.params.max_batch_size:
        for task in [t for t in self._queue if t.key == first.key]:
          if rows + task.rows > self.params.max_batch_size:
            break
          self._queue.remove(task)
          batch.append(task)
          rows += task.rows
        remaining = deadline - time.monotonic()
        if rows >= self.params.max_batch_size or remaining <= 0 or self._closed:
          break
        self._cond.wait(remaining)
      return batch

  def _work(self) -> None:
    while True:
      batch = self._take_batch()
      if not batch:
        return
      live = [t for t in batch if t.future.set_running_or_notify_cancel()]
      with self._cond:
        self.stats["requests"] += len(live)
        self.stats["batches"] += 1 if live else 0
      if live:
        _run_batch(live)


def _run_batch(batch: list[_Task]) -> None:
  signature = batch[0].signature
  if len(batch) == 1:
    _run_alone(batch[0])
    return
  try:
    merged = {k: np.concatenate([t.inputs[k] for t in batch]) for k in signature.inputs}
    outputs = signature.run(merged)
  except Exception:  # pylint: disable=broad-except
    outputs = None   # one bad request must not fail its neighbours: run each alone
  total = sum(t.rows for t in batch)
  if outputs is None or any(v.ndim == 0 or v.shape[0] != total for v in outputs.values()):
    for t in batch:  # also when an output has no batch dimension to split on
      _run_alone(t)
    return
  offsets = np.cumsum([t.rows for t in batch])[:-1]
  pieces = {k: np.split(v, offsets) for k, v in outputs.items()}
  for i, t in enumerate(batch):
    t.future.set_result({k: parts[i] for k, parts in pieces.items()})


def _run_alone(task: _Task) -> None:
  try:
    task.future.set_result(task.signature.run(task.inputs))
  except Exception as e:  # pylint: disable=broad-except  # delivered to the caller
    task.future.set_exception(e)
