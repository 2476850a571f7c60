"""The report page of the latest run: reads the run (read.py), draws (charts.py) and
renders (rendering.py, templates/report.html.j2) one self-contained HTML file."""
import datetime
import json
import os
from typing import Optional

from models import task as task_lib
from pipeline import drift
from pipeline import summary as summary_lib
from pipeline.config import PipelineConfig
from pipeline.report import charts
from pipeline.report import model_card
from pipeline.report import read
from pipeline.report import rendering


def context(config: PipelineConfig) -> dict:
  run = read.read_run(config.metadata_path)
  artifacts = run["artifacts"]
  result = summary_lib.read(config.metadata_path)
  task = task_lib.Task.from_json(json.dumps(result.task))
  view = read.evaluation_view(result)
  card = artifacts["model_card"]
  against = "the curated schema" if run["schema_file"] else "the schema SchemaGen inferred"
  examples = artifacts["examples"]
  lineage = [
      ("pipeline", config.name),
      ("task", f"{task.kind}: {', '.join(task.labels)}"),
      ("data", run["input_base"] or "–"),
      ("examples", examples.uri if examples else "–"),
      ("embedding", model_card.embedding(result.model)),
      ("schema", run["schema_file"] or "inferred by SchemaGen from the train split's statistics"),
      ("hyper-parameters", model_card.hyperparameters(result.model, task)),
      ("model", artifacts["model"].uri if artifacts["model"] else "–"),
      ("evaluation", result.evaluation_uri),
      ("pushed to", result.pushed_to or "nothing pushed"),
      ("model card", card.uri if card else "none recorded"),
      ("validation", "ok" if view["validation_ok"] else "failed"),
  ]
  trials = [dict(t, settings=summary_lib.describe_model(t["values"]) + (f" ({t['why']})" if t.get("why") else ""))
            for t in result.tuning.get("trials", [])]
  return {"name": config.name, "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
          "metadata_path": config.metadata_path, "summary": result, "summary_decision_name": result.decision_name,
          "min_slice_examples": read.MIN_SLICE_EXAMPLES, "view": view,
          "charts": charts.overall_charts(view["plots"]),
          "errors": read.error_analysis(card.uri if card else None),
          "card_link": result.model_card,
          "tuning": result.tuning, "trials": trials,
          "statistics": read.statistics(artifacts["statistics"].uri) if artifacts["statistics"] else [],
          "anomalies": read.anomalies(artifacts["anomalies"].uri) if artifacts["anomalies"] else None,
          "against": against, "lineage": lineage, "drift": drift.latest(config.output_dir, config.name)}


def render(config: PipelineConfig) -> str:
  return rendering.report_html(context(config))


def write(config: PipelineConfig, out_path: Optional[str] = None) -> str:
  out_path = out_path or os.path.join(config.output_dir, "report", "index.html")
  page = render(config)  # before opening the file: a failure leaves the old report intact
  os.makedirs(os.path.dirname(out_path), exist_ok=True)
  with open(out_path, "w", encoding="utf-8") as f:
    f.write(page)
  return out_path
