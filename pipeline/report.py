"""A static HTML report of the latest run: what was judged, on what data, and why.

    make report                      # outputs/report/index.html for the default pipeline
    python -m pipeline.report --output-dir outputs --name trec

Everything is read back from what the run recorded: ML Metadata (artifacts, the
Trainer's settings, the push), the Evaluator's TFMA output (metrics by slice, plots,
validation against the thresholds, the baseline) and TFDV's statistics and anomalies.
One self-contained file: inline CSS and SVG charts, no network.
"""
import argparse
import datetime
import html
import json
import os
import sys
from typing import Optional

import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.orchestration import metadata
from tfx.types import standard_artifacts

from models import task as task_lib
from pipeline import summary as summary_lib
from pipeline.config import LAST_RUN_FILE, PipelineConfig, last_run

SLICE_METRICS = {
    task_lib.BINARY: ("example_count", "binary_accuracy", "auc", "auc_precision_recall", "precision", "recall",
                      "calibration"),
    task_lib.MULTI_CLASS: ("example_count", "sparse_categorical_accuracy", "macro_auc"),
    task_lib.MULTI_LABEL: ("example_count", "subset_accuracy", "macro_auc", "micro_auc", "macro_f1", "micro_f1",
                           "macro_precision", "macro_recall", "micro_precision", "micro_recall"),
}
OVERALL = "Overall"


# --- reading the run -------------------------------------------------------------
def _latest_execution_property(store, node: str, name: str) -> str:
  """A property of the newest execution of a node type (e.g. the Trainer's custom_config)."""
  types = {t.id: t.name for t in store.get_execution_types()}
  executions = [e for e in store.get_executions() if node in types.get(e.type_id, "")]
  if not executions:
    return ""
  latest = max(executions, key=lambda e: e.id)
  value = latest.properties.get(name) or latest.custom_properties.get(name)
  return value.string_value if value else ""


def _trainer_settings(store) -> dict:
  try:
    return json.loads(_latest_execution_property(store, "Trainer", "custom_config") or "{}")
  except ValueError:
    return {}


def read_run(metadata_path: str) -> dict:
  """The latest run's artifacts and settings, from ML Metadata."""
  with metadata.Metadata(metadata.sqlite_metadata_connection_config(metadata_path)) as m:
    found = {name: summary_lib.latest_artifact(m.store, t, producer) for name, t, producer in (
        ("examples", standard_artifacts.Examples, "ExampleGen/examples"),
        ("statistics", standard_artifacts.ExampleStatistics, "StatisticsGen"),
        ("anomalies", standard_artifacts.ExampleAnomalies, "ExampleValidator"),
        ("model", standard_artifacts.Model, "Trainer"),
        ("evaluation", standard_artifacts.ModelEvaluation, "Evaluator"),
        ("blessing", standard_artifacts.ModelBlessing, "Evaluator"),
        ("pushed", standard_artifacts.PushedModel, "Pusher"))}
    trainer = _trainer_settings(m.store)
    input_base = _latest_execution_property(m.store, "ExampleGen", "input_base")
    schema = summary_lib.latest_artifact(m.store, standard_artifacts.Schema, "SchemaGen")  # not Transform's
    curated = bool(schema) and "/CuratedSchemaGen/" in schema.uri
    schema_file = _latest_execution_property(m.store, "CuratedSchemaGen", "schema_file") if curated else ""
  if found["evaluation"] is None:
    raise RuntimeError(f"{metadata_path}: no evaluation recorded yet; run the pipeline first (make run)")
  return {"artifacts": found, "trainer": trainer, "input_base": input_base, "schema_file": schema_file}


def _split_dirs(uri: str) -> dict:
  return {d[len("Split-"):]: os.path.join(uri, d) for d in sorted(os.listdir(uri)) if d.startswith("Split-")}


def _metric(values: dict, name: str) -> Optional[float]:
  entry = values.get(name)
  if isinstance(entry, dict):
    if "doubleValue" in entry:
      return float(entry["doubleValue"])
  return None


def slice_name(slice_key) -> str:
  return OVERALL if not slice_key else ", ".join(f"{k} = {v}" for k, v in slice_key)


def metrics_by_slice(eval_result, kind: str = task_lib.BINARY) -> list:
  rows = []
  for slice_key, by_output in eval_result.slicing_metrics:
    values = {}
    for by_sub_key in by_output.values():  # multi-label: the probabilities and decisions outputs
      values.update(by_sub_key.get("", {}))
    scalars = summary_lib.scalar_metrics(values)
    rows.append((slice_name(slice_key), {m: scalars.get(m) for m in SLICE_METRICS[kind]}, values))
  rows.sort(key=lambda r: (r[0] != OVERALL, r[0]))
  return rows


def overall_plots(eval_result) -> dict:
  for slice_key, plots in eval_result.plots:
    if not slice_key:
      return plots.get("", {}).get("", {})
  return {}


# --- drawing -----------------------------------------------------------------------
def svg_curve(points: list, x_label: str, y_label: str, title: str, diagonal: bool = False,
              dots: bool = False) -> str:
  """A small line (or dot) chart of (x, y) points in [0, 1]^2 as inline SVG."""
  w, h, pad = 320, 260, 40

  def xy(x, y):
    return pad + x * (w - 1.5 * pad), h - pad - y * (h - 1.5 * pad)

  parts = [f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="{w / 2}" y="14" text-anchor="middle" class="title">{html.escape(title)}</text>']
  x0, y0 = xy(0, 0)
  x1, y1 = xy(1, 1)
  parts.append(f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" class="frame"/>')
  for t in (0.25, 0.5, 0.75):
    gx, _ = xy(t, 0)
    _, gy = xy(0, t)
    parts.append(f'<line x1="{gx}" y1="{y0}" x2="{gx}" y2="{y1}" class="grid"/>')
    parts.append(f'<line x1="{x0}" y1="{gy}" x2="{x1}" y2="{gy}" class="grid"/>')
  for t in (0, 0.5, 1):
    gx, _ = xy(t, 0)
    _, gy = xy(0, t)
    parts.append(f'<text x="{gx}" y="{y0 + 14}" text-anchor="middle">{t:g}</text>')
    parts.append(f'<text x="{x0 - 6}" y="{gy + 4}" text-anchor="end">{t:g}</text>')
  parts.append(f'<text x="{(x0 + x1) / 2}" y="{h - 6}" text-anchor="middle">{html.escape(x_label)}</text>')
  parts.append(f'<text x="12" y="{(y0 + y1) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 12 {(y0 + y1) / 2})">{html.escape(y_label)}</text>')
  if diagonal:
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" class="diagonal"/>')
  clean = [(min(max(x, 0), 1), min(max(y, 0), 1)) for x, y in points if x == x and y == y]
  if dots:
    parts += [f'<circle cx="{xy(x, y)[0]:.1f}" cy="{xy(x, y)[1]:.1f}" r="3" class="dot"/>' for x, y in clean]
  elif clean:
    path = " ".join(f"{xy(x, y)[0]:.1f},{xy(x, y)[1]:.1f}" for x, y in clean)
    parts.append(f'<polyline points="{path}" class="curve"/>')
  parts.append("</svg>")
  return "".join(parts)


def roc_pr_points(plots: dict) -> tuple[list, list]:
  matrices = plots.get("confusionMatrixAtThresholds", {}).get("matrices", [])
  roc, pr = [], []
  for m in matrices:
    tp, fp = m.get("truePositives", 0.0), m.get("falsePositives", 0.0)
    tn, fn = m.get("trueNegatives", 0.0), m.get("falseNegatives", 0.0)
    if tp + fn and fp + tn:
      roc.append((fp / (fp + tn), tp / (tp + fn)))
    if tp + fp and tp + fn:
      pr.append((tp / (tp + fn), tp / (tp + fp)))
  return sorted(roc), sorted(pr)


def calibration_points(plots: dict, bins: int = 10) -> list:
  """(mean prediction, fraction positive) in `bins` equal-width prediction bins,
  pooled from TFMA's fine calibration histogram."""
  pooled = [[0.0, 0.0, 0.0] for _ in range(bins)]  # examples, label sum, prediction sum
  for bucket in plots.get("calibrationHistogramBuckets", {}).get("buckets", []):
    n = bucket.get("numWeightedExamples", 0.0)
    if not n:
      continue
    mean = bucket.get("totalWeightedRefinedPrediction", 0.0) / n
    b = pooled[min(max(int(mean * bins), 0), bins - 1)]
    b[0] += n
    b[1] += bucket.get("totalWeightedLabel", 0.0)
    b[2] += bucket.get("totalWeightedRefinedPrediction", 0.0)
  return [(p / n, label / n) for n, label, p in pooled if n]


def confusion_at_half(values: dict) -> Optional[dict]:
  entry = values.get("confusion_matrix_at_thresholds", {})
  for m in entry.get("confusionMatrixAtThresholds", {}).get("matrices", []) if isinstance(entry, dict) else []:
    if abs(m.get("threshold", -1) - 0.5) < 1e-6:
      return m
  return None


# --- the page ------------------------------------------------------------------------
def _fmt(value, pattern="{:.4f}") -> str:
  return "–" if value is None or value != value else pattern.format(value)


def _table(header: list, rows: list, cls: str = "") -> str:
  head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
  body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
  return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _thresholds(eval_config) -> list:
  rows = []
  for spec in eval_config.metrics_specs:
    for metric in spec.metrics:
      for t in [metric.threshold] * metric.HasField("threshold") + [p.threshold for p in metric.per_slice_thresholds]:
        floor = t.value_threshold.lower_bound.value if t.HasField("value_threshold") else None
        drop = -t.change_threshold.absolute.value if t.HasField("change_threshold") else None
        rows.append((_metric_name(metric), floor, drop))
  return rows


def _metric_name(metric) -> str:
  """The name a metric config's values are stored under (its "name", else TFMA's default)."""
  configured = json.loads("{" + metric.config + "}" if metric.config and metric.config[0] != "{" else metric.config or "{}")
  return configured.get("name") or _NAMES.get(metric.class_name, metric.class_name.lower())


_NAMES = {"BinaryAccuracy": "binary_accuracy", "AUC": "auc", "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
          "SubsetAccuracy": "subset_accuracy"}
_RANKING = ("auc", "auc_precision_recall")


def _slice_cell(metric: str, value, raw: dict) -> str:
  """AUCs are undefined on a slice with one class (e.g. `label = neg`): say so, not 0."""
  mean_label = _metric(raw, "mean_label")
  if metric in _RANKING and mean_label in (0.0, 1.0):
    return '<span title="one class in this slice">n/a</span>'
  return _fmt(value, "{:.0f}" if metric == "example_count" else "{:.4f}")


def multi_class_confusion(plots: dict, labels) -> str:
  """Actual label x top-1 predicted label counts, from TFMA's MultiClassConfusionMatrixPlot."""
  matrices = plots.get("multiClassConfusionMatrixAtThresholds", {}).get("matrices", [])
  if not matrices:
    return "<p>not computed</p>"
  counts = {}
  for entry in matrices[0].get("entries", []):
    key = (int(entry.get("actualClassId", 0)), int(entry.get("predictedClassId", 0)))
    counts[key] = counts.get(key, 0) + float(entry.get("numWeightedExamples", 0))
  rows = [[f"actual {html.escape(a)}"] + [f"{counts.get((i, j), 0):.0f}" for j in range(len(labels))]
          for i, a in enumerate(labels)]
  return _table([""] + [f"predicted {html.escape(p)}" for p in labels], rows, "confusion")


def statistics_section(statistics_uri: str) -> str:
  rows = []
  for split, path in _split_dirs(statistics_uri).items():
    stats = tfdv.load_stats_binary(os.path.join(path, "FeatureStats.pb"))
    for dataset in stats.datasets:
      for feature in dataset.features:
        name = feature.path.step[0] if feature.path.step else feature.name
        s = feature.string_stats
        common = s.common_stats
        top = ", ".join(f"{html.escape(v.value[:20])} ({v.frequency:.0f})" for v in list(s.top_values)[:3])
        rows.append((html.escape(split), f"{dataset.num_examples:,}", html.escape(name),
                     f"{common.num_missing:.0f}", _fmt(s.avg_length, "{:.0f}"), f"{s.unique:,}", top))
  return _table(["split", "examples", "feature", "missing", "avg length (chars)", "unique", "top values"], rows)


def anomalies_section(anomalies_uri: str, against: str) -> str:
  items = []
  for split, path in _split_dirs(anomalies_uri).items():
    anomalies = anomalies_pb2.Anomalies()
    with open(os.path.join(path, "SchemaDiff.pb"), "rb") as f:
      anomalies.ParseFromString(f.read())
    for feature, info in anomalies.anomaly_info.items():
      items.append(f"<li><b>{html.escape(split)}</b>, feature <code>{html.escape(feature)}</code>: "
                   f"{html.escape(info.short_description)} — {html.escape(info.description)}</li>")
  if not items:
    return f'<p class="ok" id="anomalies-none">No anomalies: every split matches {against}.</p>'
  return '<ul class="bad" id="anomalies">' + "".join(items) + "</ul>"


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#1d2330}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #dde2ea;padding:4px 8px;text-align:right}
th{background:#f3f5f8}td:first-child,th:first-child{text-align:left}.ok{color:#17663a}.bad{color:#a4262c}
.verdict{font-size:16px;font-weight:600;padding:8px 12px;border-radius:6px;display:inline-block}
.verdict.ok{background:#e3f4e9}.verdict.bad{background:#fbe7e8}.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart text{font-size:11px;fill:#4a5263}.chart .title{font-size:13px;font-weight:600;fill:#1d2330}
.frame{fill:none;stroke:#9aa3b2}.grid{stroke:#eef1f5}.diagonal{stroke:#b8c0cc;stroke-dasharray:4 3}
.curve{fill:none;stroke:#2463c7;stroke-width:2}.dot{fill:#2463c7}code{background:#f3f5f8;padding:0 3px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{color:#4a5263}dd{margin:0}
#slice-filter{margin:4px 0;padding:3px 6px}
"""

# Records script errors on <html data-errors>, so a headless browser test can see them.
_ERROR_HOOK = """
window.addEventListener('error',function(e){var d=document.documentElement;
d.setAttribute('data-errors',(d.getAttribute('data-errors')||'')+e.message+';');});
"""

_SCRIPT = """
(function(){
  var box=document.getElementById('slice-filter');
  var rows=document.querySelectorAll('#slices tbody tr');
  box.addEventListener('input',function(){
    var q=box.value.toLowerCase();
    rows.forEach(function(r){r.style.display=r.cells[0].textContent.toLowerCase().indexOf(q)<0?'none':'';});
  });
  document.body.setAttribute('data-rendered','true');
})();
"""


def render(config: PipelineConfig) -> str:
  run = read_run(config.metadata_path)
  artifacts, trainer = run["artifacts"], run["trainer"]
  result = summary_lib.read(config.metadata_path)
  uri = artifacts["evaluation"].uri
  candidate, baseline = summary_lib.model_names(uri)
  eval_result = tfma.load_eval_result(uri, model_name=candidate or None)
  validation = tfma.load_validation_result(uri)
  model_settings = result.model or trainer.get("model", {})  # as trained (after tuning), else as configured

  verdict = ('<span class="verdict ok" id="verdict">Blessed and pushed</span>' if result.blessed and result.pushed_to
             else '<span class="verdict ok" id="verdict">Blessed</span>' if result.blessed
             else '<span class="verdict bad" id="verdict">Not blessed: nothing pushed</span>')
  failures = "".join(f"<li>{html.escape(f)}</li>" for f in result.failures)

  gate_rows = []
  for key, floor, drop in _thresholds(eval_result.config):
    value = result.metrics.get(key)
    base_value = (result.baseline_metrics or {}).get(key)
    change = None if value is None or base_value is None else value - base_value
    ok_floor = value is not None and floor is not None and value >= floor
    ok_drop = change is None or drop is None or change >= -drop - 1e-12
    fitted = result.fitted_floors.get("floors", {}).get(key)
    trivial = (f"{html.escape(fitted['trivial_predictor'])} {_fmt(fitted['trivial'])} + {_fmt(fitted['margin'])}"
               if fitted else "absolute floor")
    gate_rows.append((html.escape(key), _fmt(value), f">= {_fmt(floor)}", trivial, _fmt(base_value),
                      _fmt(change, "{:+.4f}"), f">= {_fmt(-drop if drop is not None else None, '{:+.4f}')}",
                      '<span class="ok">pass</span>' if ok_floor and ok_drop else '<span class="bad">fail</span>'))

  kind = result.task["kind"]
  labels = result.task["labels"]
  by_slice = metrics_by_slice(eval_result, kind)
  slice_rows = [[html.escape(name)] + [_slice_cell(m, v, raw) for m, v in metrics.items()]
                for name, metrics, raw in by_slice]

  overall_values = next((raw for name, _, raw in by_slice if name == OVERALL), {})
  matrix = confusion_at_half(overall_values)
  plots = overall_plots(eval_result)
  if kind == task_lib.MULTI_CLASS:
    confusion = multi_class_confusion(plots, labels)
  elif kind == task_lib.MULTI_LABEL:
    confusion = "<p>Per label below (precision, recall and F1 at each label's decision threshold).</p>"
  elif matrix:
    confusion = _table(["", "predicted neg", "predicted pos"], [
        ("actual neg", f"{matrix.get('trueNegatives', 0):.0f}", f"{matrix.get('falsePositives', 0):.0f}"),
        ("actual pos", f"{matrix.get('falseNegatives', 0):.0f}", f"{matrix.get('truePositives', 0):.0f}")],
        "confusion")
  else:
    confusion = "<p>not computed</p>"

  per_label_metrics = sorted({m for values in result.per_label.values() for m in values})
  per_label_html = _table(["label"] + per_label_metrics, [
      [html.escape(label)] + [_fmt(result.per_label.get(label, {}).get(m)) for m in per_label_metrics]
      for label in labels], "per-label") if result.per_label else ""
  roc, pr = roc_pr_points(plots)
  charts = (svg_curve(roc, "false positive rate", "true positive rate", "ROC curve", diagonal=True)
            + svg_curve(pr, "recall", "precision", "Precision-recall curve")
            + svg_curve(calibration_points(plots), "mean prediction", "fraction positive",
                        "Calibration (by prediction bucket)", diagonal=True, dots=True))

  if result.baseline_metrics:
    baseline_rows = [(html.escape(m), _fmt(result.metrics.get(m)), _fmt(result.baseline_metrics.get(m)),
                      _fmt(None if result.metrics.get(m) is None or result.baseline_metrics.get(m) is None
                           else result.metrics[m] - result.baseline_metrics[m], "{:+.4f}"))
                     for m in SLICE_METRICS[kind] if m != "example_count"]
    baseline_html = (f"<p>Candidate against the last blessed model (<code>{html.escape(baseline or '')}</code>), "
                     "same test split.</p>" + _table(["metric", "candidate", "baseline", "change"], baseline_rows,
                                                     "baseline"))
  else:
    baseline_html = '<p id="no-baseline">No baseline: this is the first blessed-model candidate, judged on the floors alone.</p>'

  examples = artifacts["examples"]
  against = "the curated schema" if run["schema_file"] else "the schema SchemaGen inferred"
  lineage = {
      "pipeline": config.name,
      "task": f"{kind}: {', '.join(labels)}",
      "data": run["input_base"] or "–",
      "examples": examples.uri if examples else "–",
      "embedding": f"{model_settings.get('embedding_handle', '–')}"
                   f"{'' if model_settings.get('trainable', True) else ' (frozen)'}",
      "schema": run["schema_file"] or "inferred by SchemaGen from the train split's statistics",
      "hyper-parameters": ", ".join(f"{k}={'default' if model_settings[k] is None else model_settings[k]}" for k in
                                    ("epochs", "batch_size", "learning_rate", "dropout", "hidden_units")
                                    if k in model_settings),
      "model": artifacts["model"].uri if artifacts["model"] else "–",
      "evaluation": uri,
      "pushed to": result.pushed_to or "nothing pushed",
      "validation": "ok" if validation.validation_ok else "failed",
  }
  lineage_html = "<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd><code>{html.escape(str(v))}</code></dd>"
                                  for k, v in lineage.items()) + "</dl>"

  return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(config.name)}: evaluation report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style>
<script>{_ERROR_HOOK}</script></head>
<body>
<h1>{html.escape(config.name)}: evaluation report</h1>
<p>Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} from the latest run recorded in
<code>{html.escape(config.metadata_path)}</code>.</p>
{verdict}
{f'<ul class="bad" id="failures">{failures}</ul>' if failures else ''}
<h2>Gate (test split, overall)</h2>
{_table(["metric", "value", "floor", "trivial predictor + margin (test split)", "baseline", "change",
          "allowed change", "result"], gate_rows, "gate")}
<h2>Metrics by slice</h2>
<input id="slice-filter" type="search" placeholder="filter slices…" aria-label="filter slices">
{_table(["slice"] + list(SLICE_METRICS[kind]), slice_rows, "slices").replace('<table class="slices">', '<table class="slices" id="slices">')}
{f'<h2>Per label (one-vs-rest, overall)</h2>{per_label_html}' if per_label_html else ''}
<h2>Confusion matrix (overall)</h2>
{confusion}
<h2>ROC, precision-recall and calibration (overall)</h2>
<div class="charts">{charts}</div>
<h2>Tuning</h2>
{tuning_section(result.tuning)}
<h2>Baseline comparison</h2>
{baseline_html}
<h2>Data statistics</h2>
{statistics_section(artifacts["statistics"].uri) if artifacts["statistics"] else "<p>none recorded</p>"}
<h2>Anomalies (ExampleValidator against {"the curated schema" if run["schema_file"] else "the schema SchemaGen inferred"})</h2>
{anomalies_section(artifacts["anomalies"].uri, against) if artifacts["anomalies"] else "<p>none recorded</p>"}
<h2>Lineage</h2>
{lineage_html}
<script>{_SCRIPT}</script>
</body></html>
"""


def tuning_section(tuning: dict) -> str:
  """The Tuner result the Trainer took: every trial (values, eval score, seconds)."""
  if not tuning:
    return '<p id="tuning">No tuning: the Trainer used the configured settings (run with --tune to search).</p>'
  if tuning.get("reused"):
    intro = (f"<p id=\"tuning\">Reused: the Trainer took the pipeline's last Tuner result "
             f"(<code>{html.escape(tuning.get('uri', ''))}</code>).</p>")
  else:
    intro = (f"<p id=\"tuning\">Searched in this run by {html.escape(str(tuning.get('objective')))} on the eval split, "
             f"budget {tuning.get('budget_seconds', 0):.0f} s; stopped: {html.escape(str(tuning.get('stopped_because')))}.</p>")
  rows = [(html.escape(str(t["trial"] or "–")), html.escape(t["status"]), _fmt(t["score"]),
           "–" if t["seconds"] is None else f"{t['seconds']:.0f}",
           html.escape(summary_lib.describe_model(t["values"]) + (f" ({t['why']})" if t.get("why") else "")))
          for t in tuning.get("trials", [])]
  return intro + _table(["trial", "status", "eval score", "seconds", "settings"], rows, "trials")


def write(config: PipelineConfig, out_path: Optional[str] = None) -> str:
  out_path = out_path or os.path.join(config.output_dir, "report", "index.html")
  page = render(config)  # before opening the file: a failure leaves the old report intact
  os.makedirs(os.path.dirname(out_path), exist_ok=True)
  with open(out_path, "w", encoding="utf-8") as f:
    f.write(page)
  return out_path


def main(argv=None) -> int:
  defaults = PipelineConfig()
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--output-dir", default=defaults.output_dir, help="the run's output dir (metadata inside)")
  p.add_argument("--name", default="", help="pipeline name (default: the latest run's, from <output-dir>/"
                                              f"{LAST_RUN_FILE})")
  p.add_argument("--out", default=None, help="HTML file (default: <output-dir>/report/index.html)")
  args = p.parse_args(argv)
  name = args.name or last_run(args.output_dir).get("pipeline_name", "")
  if not name:
    print(f"report: no run recorded in {args.output_dir} ({LAST_RUN_FILE} is missing): "
          "run the pipeline first (make run), or give --name", file=sys.stderr)
    return 1
  config = defaults.replace(output_dir=args.output_dir, name=name)
  if not os.path.exists(config.metadata_path):   # connecting would create an empty store
    print(f"report: no run of pipeline {name!r} recorded in {args.output_dir} (no {config.metadata_path})",
          file=sys.stderr)
    return 1
  try:
    path = write(config, args.out)
  except RuntimeError as e:
    print(f"report: {e}", file=sys.stderr)
    return 1
  print(f"report: {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
