"""`make score`: new texts scored by the pipeline's last blessed model.

    make score ARGS="--data new.csv"                       # the latest run's pipeline
    make score ARGS="--data ~/aclImdb/train/unsup --name imdb-sentiment --out scores.jsonl"

The data: a CSV or JSON Lines file (or a folder of them), a folder of .txt files
(unlabelled), or class folders (<label>/*.txt). Texts are read by the same TextExampleGen
as in training; a label column, where the data has one, adds TFMA's metrics. The model is
the newest one the pipeline blessed (ML Metadata). Written: predictions as CSV or JSON
Lines (row id, text, the decided label or labels, every probability) and BulkInferrer's
TF Serving PredictionLog TFRecords.
"""
import argparse
import csv
import dataclasses
import json
import os
import pathlib
import sys
import time

from pipeline.terminal import native_stderr_silenced, quiet

# Before anything imports TensorFlow: the terminal shows progress and the table.
QUIET = quiet(__name__ == "__main__" and "--verbose" not in sys.argv[1:])

with native_stderr_silenced(QUIET):
  from components.errors import InputDataError  # noqa: E402
  from components.text_example_gen import records  # noqa: E402
  from models import task as task_lib  # noqa: E402
  from pipeline.config import PipelineConfig  # noqa: E402
  from pipeline.paths import LAST_RUN_FILE, last_run  # noqa: E402

PROGRESS_EVERY = 10_000


class NoBlessedModelError(InputDataError):
  """The pipeline has no blessed model to score with."""


@dataclasses.dataclass(frozen=True)
class ScoringData:
  input_base: str
  pattern: str
  labelled: bool


def _has_column(path: pathlib.Path, column: str) -> bool:
  """Whether the first row of a CSV (header) or JSON Lines file (object) has `column`."""
  with open(path, encoding="utf-8-sig", newline="") as f:
    if path.suffix in records.CSV_SUFFIXES:
      return column in next(csv.reader(f), [])
    for line in f:
      if line.strip():
        try:
          row = json.loads(line)
        except json.JSONDecodeError:
          return False   # the reader names the line
        return isinstance(row, dict) and column in row
  return False


def layout(path: str, label_column: str) -> ScoringData:
  """What TextExampleGen reads for `path`, and whether the texts carry labels."""
  given = pathlib.Path(path).expanduser()
  if not given.exists():
    raise InputDataError(f"{path}: data path does not exist")
  given = given.resolve()
  tables = records.CSV_SUFFIXES + records.JSONL_SUFFIXES
  if given.is_file():
    if not given.name.endswith(tables):
      raise InputDataError(f"{given}: expected a CSV or JSON Lines file, or a folder")
    return ScoringData(str(given.parent), given.name, _has_column(given, label_column))
  files = sorted(p for p in given.iterdir() if p.is_file() and p.name.endswith(tables + records.TEXT_SUFFIXES))
  suffixes = {p.suffix for p in files}
  if len(suffixes) > 1:
    raise InputDataError(f"{given}: mixes {', '.join(sorted(suffixes))} files; keep one format")
  if suffixes == {".txt"}:
    return ScoringData(str(given), "*.txt", False)
  if suffixes:
    return ScoringData(str(given), f"*{suffixes.pop()}", _has_column(files[0], label_column))
  if any(given.glob("*/*.txt")):
    return ScoringData(str(given), "*/*.txt", True)   # class folders: the folder is the label
  raise InputDataError(f"{given}: nothing to score (expected a CSV or JSON Lines file, .txt files or "
                       f"class folders <label>/*.txt)")


def scoring_task(model_task: task_lib.Task, text_column: str, label_column: str, labelled: bool) -> task_lib.Task:
  """The model's task (kind, labels) with the data's columns; no label column when unlabelled."""
  return dataclasses.replace(model_task, text_column=text_column, label_column=label_column if labelled else "")


def write_predictions(rows, task: task_lib.Task, out_path: str, progress=print) -> int:
  """Writes models.predictions.Prediction rows as CSV or JSON Lines (by out_path's suffix):
  row id, text, the decided label(s), every probability. Returns the row count."""
  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  jsonl = out_path.endswith(records.JSONL_SUFFIXES)
  count = 0
  with open(out_path, "w", encoding="utf-8", newline="") as f:
    writer = None if jsonl else csv.writer(f)
    if writer:
      writer.writerow(["row_id", "text", "predicted", *(f"p_{label}" for label in task.labels)])
    for row in rows:
      decided = row.decided(task)
      if jsonl:
        f.write(json.dumps({"row_id": row.row_id, "text": row.text, "predicted": decided,
                            "probabilities": dict(zip(task.labels, map(float, row.probabilities)))},
                           ensure_ascii=False) + "\n")
      else:
        writer.writerow([row.row_id, row.text, task.label_delimiter.join(decided),
                         *(f"{p:.6f}" for p in row.probabilities)])
      count += 1
      if count % PROGRESS_EVERY == 0:
        progress(f"[score] {count:,} rows written")
  return count


def blessed_model(config: PipelineConfig) -> tuple[str, task_lib.Task]:
  """The newest model the pipeline blessed (ML Metadata) and the task it was trained for."""
  from pipeline import summary   # pylint: disable=import-outside-toplevel
  if not os.path.exists(config.metadata_path):
    raise NoBlessedModelError(f"no run of pipeline {config.name!r} recorded in {config.output_dir} "
                              f"(no {config.metadata_path}): run it first (make run), or give --name")
  uri = summary.last_blessed_model(config.metadata_path)
  if not uri:
    raise NoBlessedModelError(f"pipeline {config.name!r} has no blessed model yet: nothing to score with")
  return uri, summary.model_task(uri)


def main(argv=None) -> int:
  defaults = PipelineConfig()
  p = argparse.ArgumentParser(prog="python -m pipeline.score", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--data", required=True, help="a CSV or JSON Lines file or folder, .txt files, or class folders")
  p.add_argument("--name", default="", help=f"the pipeline whose model scores (default: the latest run's, "
                                            f"from <output-dir>/{LAST_RUN_FILE})")
  p.add_argument("--output-dir", default=defaults.output_dir, help="the pipeline's output dir (metadata inside)")
  p.add_argument("--text-column", default="", help="default: the column the model was trained on")
  p.add_argument("--label-column", default="", help="labels, if the data has them (metrics); default: the "
                                                   "training column")
  p.add_argument("--out", default="", help="predictions file, .csv or .jsonl (default: "
                                          "<output-dir>/scoring/<name>/predictions-<time>.csv)")
  p.add_argument("--verbose", action="store_true", help="show all TFX, Beam and TF logs")
  args = p.parse_args(argv)
  if args.out and not args.out.endswith(records.CSV_SUFFIXES + records.JSONL_SUFFIXES):
    p.error(f"--out {args.out}: name a .csv or .jsonl file")
  output_dir = str(pathlib.Path(args.output_dir).resolve())
  name = args.name or last_run(output_dir).get("pipeline_name", "")
  if not name:
    p.error(f"no run recorded in {output_dir} ({LAST_RUN_FILE} is missing): run the pipeline first, or give --name")
  with native_stderr_silenced(QUIET):
    from pipeline import cli   # pylint: disable=import-outside-toplevel  (TFX, TF)
    from pipeline import run as runner   # pylint: disable=import-outside-toplevel
  runner.configure_logging(args.verbose)
  try:
    return _score(defaults.replace(output_dir=output_dir, name=name), args)
  except Exception as e:  # pylint: disable=broad-except
    message = cli.user_error_message(e)
    if message is None:
      raise
    print(f"\n[score] FAILED, nothing written.\n{message}", file=sys.stderr, flush=True)
    return 2


def _score(config: PipelineConfig, args) -> int:
  from tfx.orchestration import metadata   # pylint: disable=import-outside-toplevel
  from tfx.orchestration.local.local_dag_runner import LocalDagRunner   # pylint: disable=import-outside-toplevel
  from tfx.types import standard_artifacts   # pylint: disable=import-outside-toplevel
  from models import predictions   # pylint: disable=import-outside-toplevel
  from pipeline import evaluation as evaluation_lib   # pylint: disable=import-outside-toplevel
  from pipeline import run_lock, scoring, summary   # pylint: disable=import-outside-toplevel
  start = time.time()
  model_uri, model_task = blessed_model(config)
  text_column = args.text_column or model_task.text_column
  label_column = args.label_column or model_task.label_column
  data = layout(args.data, label_column)
  task = scoring_task(model_task, text_column, label_column, data.labelled)
  score_dir = os.path.join(config.output_dir, "scoring", config.name)
  metadata_path = os.path.join(score_dir, "metadata.db")
  print(f"[score] {args.data} ({'labelled: metrics too' if data.labelled else 'unlabelled'}) with the last "
        f"blessed model of {config.name} ({model_uri})", flush=True)
  with run_lock.held(metadata_path, f"{config.name}-scoring"):
    LocalDagRunner().run(scoring.create_scoring_pipeline(
        f"{config.name}-scoring", os.path.join(score_dir, "pipeline"), data.input_base, data.pattern, task,
        model_uri, metadata.sqlite_metadata_connection_config(metadata_path),
        config.beam_pipeline_args()))
    inference = summary.latest_output(metadata_path, standard_artifacts.InferenceResult)
    evaluation = (summary.latest_output(metadata_path, standard_artifacts.ModelEvaluation)
                  if data.labelled else None)
  out_path = args.out or os.path.join(score_dir, f"predictions-{time.strftime('%Y%m%d-%H%M%S')}.csv")
  rows = write_predictions(predictions.read(inference.uri, task), task, out_path,
                           progress=lambda line: print(line, flush=True))
  seconds = time.time() - start
  table = [("model", model_uri), ("data", f"{args.data}: {rows:,} rows"),
           ("predictions", os.path.abspath(out_path)),
           ("prediction logs", f"{inference.uri} (TF Serving PredictionLog TFRecords)"),
           ("wall time", f"{seconds:.0f} s, {rows / seconds:,.1f} rows/s")]
  if evaluation is not None:
    metrics = summary.from_evaluation(evaluation.uri, model_task, True, pushed_to=None).metrics
    names = [gate[model_task.kind][0] for gate in (evaluation_lib.ACCURACY, evaluation_lib.AUC)]
    names += [n for n in summary.EXTRA_ROWS if n in metrics]
    table[2:2] = [(name.replace("_", " "), f"{metrics[name]:.4f}") for name in names if name in metrics]
    table.append(("evaluation", f"{evaluation.uri} (TFMA's output: tfma.load_eval_result)"))
  width = max(len(k) for k, _ in table)
  print("\n" + "\n".join(f"  {k.ljust(width)}  {v}" for k, v in table), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
