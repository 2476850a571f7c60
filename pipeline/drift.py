"""`make drift`: does the traffic the model serves still look like its training data?

    make drift ARGS="--logs outputs/request_logs/imdb_sentiment"          # the latest run's pipeline
    make drift ARGS="--logs DIR --name trec"

Reads the requests the local server logged (`--request_log_dir`: PredictionLogs with
the request and the answer, serving/local_server/request_log.py), turns every logged
text into derived features (FEATURES below), does the same for the pipeline's eval split
(the labels there are the true ones; the vocabulary is the train split's), and compares
their TFDV statistics with TFDV's drift comparators (Jensen-Shannon divergence), declared
per feature in schemas/<name>/drift.pbtxt (DEFAULT_THRESHOLD where there is none).
Writes both statistics, the anomalies and drift.json to outputs/drift/<name>/<time>/;
`make report` shows the latest.
"""
import argparse
import datetime
import glob
import json
import os
import re
import string
import sys
from typing import Iterable, Iterator

from pipeline.terminal import native_stderr_silenced, quiet

QUIET = quiet(__name__ == "__main__" and "--verbose" not in sys.argv[1:])

with native_stderr_silenced(QUIET):
  import numpy as np  # noqa: E402
  import tensorflow as tf  # noqa: E402
  import tensorflow_data_validation as tfdv  # noqa: E402
  from google.protobuf import text_format  # noqa: E402
  from tensorflow_metadata.proto.v0 import schema_pb2  # noqa: E402
  from tensorflow_serving.apis import prediction_log_pb2  # noqa: E402
  from tfx.types import standard_artifacts  # noqa: E402
  from tfx.utils import io_utils  # noqa: E402

  from components.errors import InputDataError  # noqa: E402
  from components.text_example_gen import written  # noqa: E402
  from models import features  # noqa: E402
  from models import predictions  # noqa: E402
  from models import task as task_lib  # noqa: E402
  from pipeline import summary  # noqa: E402
  from pipeline.config import REPO_ROOT, PipelineConfig  # noqa: E402
  from pipeline.paths import LAST_RUN_FILE, last_run  # noqa: E402
  from serving.local_server.request_log import FILE_PATTERN  # noqa: E402

# What each text becomes: its length, how much of it the training vocabulary covers, its
# character classes, and the label (predicted for traffic, true for the eval split).
FEATURES = ("words", "oov_share", "letter_share", "digit_share", "upper_share", "punct_share", "non_ascii_share",
            "label")
DEFAULT_THRESHOLD = 0.2       # Jensen-Shannon divergence above which a feature has drifted
DRIFT_SCHEMA = "drift.pbtxt"  # beside the curated schema: schemas/<name>/drift.pbtxt
DRIFT_FILE = "drift.json"
_WORD = re.compile(r"\w+")
_PUNCT = set(string.punctuation)


class NoTrafficError(InputDataError):
  """The log folder holds no logged text."""


def words(text: str) -> list[str]:
  return _WORD.findall(text.lower())


def derived(text: str, labels: Iterable[str], vocabulary: set) -> tf.train.Example:
  tokens = words(text)
  chars = max(len(text), 1)
  values = {"oov_share": sum(t not in vocabulary for t in tokens) / max(len(tokens), 1),
            "letter_share": sum(c.isalpha() for c in text) / chars,
            "digit_share": sum(c.isdigit() for c in text) / chars,
            "upper_share": sum(c.isupper() for c in text) / chars,
            "punct_share": sum(c in _PUNCT for c in text) / chars,
            "non_ascii_share": sum(ord(c) > 127 for c in text) / chars}
  feature = {name: tf.train.Feature(float_list=tf.train.FloatList(value=[v])) for name, v in values.items()}
  feature["words"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[len(tokens)]))
  feature["label"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[l.encode() for l in labels]))
  return tf.train.Example(features=tf.train.Features(feature=feature))


def _text_of(serialized: bytes) -> str:
  return tf.train.Example.FromString(serialized).features.feature[features.DEFAULT_TEXT_KEY].bytes_list.value[0].decode()


def _decided(probabilities: np.ndarray, decisions, task: task_lib.Task, thresholds: dict) -> list[str]:
  """The served decisions where logged (Predict), else the model's thresholds (Classify)."""
  if decisions is None and task.kind == task_lib.MULTI_LABEL:
    decisions = np.array([p >= thresholds.get(label, 0.5) for label, p in zip(task.labels, probabilities)])
  return predictions.Prediction(text="", labels=(), probabilities=probabilities, decisions=decisions).decided(task)


def logged(log_dir: str, task: task_lib.Task, thresholds: dict) -> Iterator[tuple[str, list[str]]]:
  """(text, decided labels) of every logged row that holds a prediction."""
  paths = sorted(glob.glob(os.path.join(log_dir, FILE_PATTERN)))
  if not paths:
    raise NoTrafficError(f"{log_dir}: no {FILE_PATTERN} files (start the server with --request_log_dir)")
  for record in tf.data.TFRecordDataset(paths).as_numpy_iterator():
    entry = prediction_log_pb2.PredictionLog.FromString(record)
    if entry.HasField("classify_log"):
      request, response = entry.classify_log.request, entry.classify_log.response
      texts = [e.features.feature[features.DEFAULT_TEXT_KEY].bytes_list.value[0].decode()
               for e in request.input.example_list.examples]
      for text, result in zip(texts, response.result.classifications):
        scores = {c.label: c.score for c in result.classes}
        yield text, _decided(np.array([scores.get(l, 0.0) for l in task.labels]), None, task, thresholds)
      continue
    request, response = entry.predict_log.request, entry.predict_log.response
    outputs = {k: tf.make_ndarray(v) for k, v in response.outputs.items()}
    probabilities = outputs.get(features.PROBABILITY_OUTPUT, outputs.get(features.SCORES_OUTPUT))
    if probabilities is None:
      continue   # transform_features: no prediction
    if features.TEXT_INPUT in request.inputs:
      texts = [v.decode() for v in tf.make_ndarray(request.inputs[features.TEXT_INPUT]).ravel()]
    else:
      (key,) = request.inputs
      texts = [_text_of(v) for v in tf.make_ndarray(request.inputs[key]).ravel()]
    probabilities = probabilities.reshape(len(texts), -1)
    if probabilities.shape[1] == 1:   # binary serving_default: P(labels[1])
      probabilities = np.concatenate([1.0 - probabilities, probabilities], axis=1)
    decisions = outputs.get(features.DECISIONS_OUTPUT)
    for i, text in enumerate(texts):
      yield text, _decided(probabilities[i], None if decisions is None else decisions[i], task, thresholds)


def _statistics(rows: Iterable[tuple[str, list[str]]], vocabulary: set, path: str):
  count = 0
  with tf.io.TFRecordWriter(path + ".tfrecord") as writer:
    for text, labels in rows:
      writer.write(derived(text, labels, vocabulary).SerializeToString())
      count += 1
  stats = tfdv.generate_statistics_from_tfrecord(path + ".tfrecord", output_path=path)
  return stats, count


def drift_schema(name: str) -> tuple[schema_pb2.Schema, str]:
  """The derived features' schema with their drift comparators: schemas/<name>/drift.pbtxt,
  else every feature at DEFAULT_THRESHOLD."""
  path = REPO_ROOT / "schemas" / name / DRIFT_SCHEMA
  if path.exists():
    return text_format.Parse(path.read_text(), schema_pb2.Schema()), str(path)
  schema = schema_pb2.Schema()
  for feature in FEATURES:
    f = schema.feature.add(name=feature, type=schema_pb2.BYTES if feature == "label" else
                           schema_pb2.INT if feature == "words" else schema_pb2.FLOAT)
    f.drift_comparator.jensen_shannon_divergence.threshold = DEFAULT_THRESHOLD
  return schema, f"every feature at the default threshold {DEFAULT_THRESHOLD} (no {path})"


def compare(config: PipelineConfig, log_dir: str, out_dir: str) -> dict:
  """Writes statistics, anomalies and drift.json under out_dir; returns drift.json's content."""
  if not os.path.exists(config.metadata_path):
    raise InputDataError(f"no run of pipeline {config.name!r} recorded in {config.output_dir}: run it first")
  examples = summary.latest_output(config.metadata_path, standard_artifacts.Examples, "ExampleGen/examples")
  model_uri = summary.last_blessed_model(config.metadata_path)
  if examples is None or model_uri is None:
    raise InputDataError(f"pipeline {config.name!r} has no blessed model and examples to compare traffic with")
  task = summary.model_task(model_uri)
  thresholds = predictions.thresholds(os.path.join(model_uri, "Format-Serving"))
  vocabulary = {w for text, _ in written.split_rows(examples.uri, "train") for w in words(text)}
  os.makedirs(out_dir, exist_ok=True)
  reference, reference_rows = _statistics(written.split_rows(examples.uri, "eval"), vocabulary,
                                          os.path.join(out_dir, "reference_stats.pb"))
  live, live_rows = _statistics(logged(log_dir, task, thresholds), vocabulary, os.path.join(out_dir, "live_stats.pb"))
  if not live_rows:
    raise NoTrafficError(f"{log_dir}: the logs hold no prediction of a text")
  schema, schema_source = drift_schema(config.name)
  anomalies = tfdv.validate_statistics(statistics=live, schema=schema, previous_statistics=reference)
  io_utils.write_pbtxt_file(os.path.join(out_dir, "anomalies.pbtxt"), anomalies)
  measured = {}
  for info in anomalies.drift_skew_info:
    for m in info.drift_measurements:
      measured[info.path.step[0]] = {"divergence": m.value, "threshold": m.threshold,
                                     "drifted": m.value > m.threshold}
  result = {"pipeline": config.name, "logs": os.path.abspath(log_dir), "rows": live_rows,
            "reference": f"{examples.uri} (eval split, {reference_rows} rows)", "schema": schema_source,
            "time": datetime.datetime.now().isoformat(timespec="seconds"), "features": measured,
            "anomalies": {k: v.description for k, v in anomalies.anomaly_info.items()}}
  io_utils.write_string_file(os.path.join(out_dir, DRIFT_FILE), json.dumps(result, indent=1))
  return result


def latest(output_dir: str, name: str) -> dict:
  """The newest drift.json of a pipeline ({} if none)."""
  found = sorted(glob.glob(os.path.join(output_dir, "drift", name, "*", DRIFT_FILE)))
  return json.loads(io_utils.read_string_file(found[-1])) if found else {}


def main(argv=None) -> int:
  defaults = PipelineConfig()
  p = argparse.ArgumentParser(prog="python -m pipeline.drift", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--logs", required=True, help="the local server's --request_log_dir")
  p.add_argument("--name", default="", help=f"pipeline (default: the latest run's, from {LAST_RUN_FILE})")
  p.add_argument("--output-dir", default=defaults.output_dir)
  p.add_argument("--verbose", action="store_true")
  args = p.parse_args(argv)
  name = args.name or last_run(args.output_dir).get("pipeline_name", "")
  if not name:
    p.error(f"no run recorded in {args.output_dir}: run the pipeline first, or give --name")
  config = defaults.replace(output_dir=os.path.abspath(args.output_dir), name=name)
  out_dir = os.path.join(config.output_dir, "drift", name, datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
  try:
    result = compare(config, args.logs, out_dir)
  except InputDataError as e:
    print(f"drift: {type(e).__name__}: {e}", file=sys.stderr)
    return 2
  rows = [(f, f"{v['divergence']:.4f} (threshold {v['threshold']:g})" + ("  DRIFTED" if v["drifted"] else ""))
          for f, v in sorted(result["features"].items())]
  rows += [("logged rows", f"{result['rows']:,}"), ("reference", result["reference"]), ("written", out_dir)]
  width = max(len(k) for k, _ in rows)
  print("Jensen-Shannon divergence, logged traffic vs. the eval split:")
  print("\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows))
  return 0


if __name__ == "__main__":
  sys.exit(main())
