"""Counters an operator scrapes instead of reading one log line per event, at TF
Serving's path for them (`GET /monitoring/prometheus/metrics`, Prometheus text format)."""
import collections
import threading

METRICS_PATH = "/monitoring/prometheus/metrics"
REFUSED_REQUESTS = "local_server_refused_requests_total"          # labels: api, reason
SKIPPED_ENTRIES = "local_server_base_path_skipped_entries"         # labels: model
_HELP = {
    REFUSED_REQUESTS: ("counter", "Requests refused before they ran, by front end and reason."),
    SKIPPED_ENTRIES: ("gauge", "Entries of a model's base path that are not versions (see the log)."),
}


class Metrics:
  """Thread-safe counters and gauges keyed by name and labels."""

  def __init__(self):
    self._lock = threading.Lock()
    self._values: dict[str, dict[tuple, float]] = collections.defaultdict(dict)

  def increment(self, name: str, **labels: str) -> None:
    key = tuple(sorted(labels.items()))
    with self._lock:
      self._values[name][key] = self._values[name].get(key, 0) + 1

  def set(self, name: str, value: float, **labels: str) -> None:
    with self._lock:
      self._values[name][tuple(sorted(labels.items()))] = value

  def value(self, name: str, **labels: str) -> float:
    with self._lock:
      return self._values[name].get(tuple(sorted(labels.items())), 0)

  def render(self) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    lines = []
    with self._lock:
      for name in sorted(self._values):
        kind, text = _HELP.get(name, ("untyped", ""))
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for labels, value in sorted(self._values[name].items()):
          shown = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
          lines.append(f"{name}{{{shown}}} {value:g}" if shown else f"{name} {value:g}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
  return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
