"""The pipeline on each task kind's full data set, beside a scikit-learn peer trained and
scored in the same run on the same files; appends one table per data set to
benchmarks/task_results.md.

    make bench-tasks                               # TREC (coarse) and GoEmotions from ../shared/data
    make bench-tasks ARGS="--datasets trec"

Peers (classic CPU baselines, seconds to train): TREC, TF-IDF word uni+bi-grams + linear
SVM (C=1) on train.csv; GoEmotions, TF-IDF uni+bi-grams + one-vs-rest logistic regression
with a threshold per label chosen on dev (the same rule as our Trainer's,
models/thresholds.py). Both are scored on the official test files, as ours is.
Ours: the pipeline's Evaluator on the same test file; model selection on eval only
(TREC: 1 in 10 train questions held out; GoEmotions: dev.csv).
"""
import argparse
import csv
import datetime
import pathlib
import shutil
import sys
import tarfile
import time

from benchmarks.pipeline_bench import component_seconds, machine
from models import thresholds as thresholds_lib
from pipeline import cli
from pipeline import run
from pipeline.config import REPO_ROOT

RESULTS = REPO_ROOT / "benchmarks" / "task_results.md"
SHARED = REPO_ROOT.parent / "shared" / "data"
DATASETS = {
    # name: (archive, folder inside, CLI flags)
    "trec": (SHARED / "trec.tar.gz", "trec", ["--label-column", "coarse", "--epochs", "20"]),
    # 43k comments: big batches amortise the dense Adam update of the embedding tables.
    "goemotions": (SHARED / "goemotions.tar.gz", "goemotions",
                   ["--label-column", "labels", "--batch-size", "256", "--learning-rate", "0.002", "--dropout", "0.2"]),
}
HEADER = ("| date | machine | system | accuracy | macro AUC | micro AUC | macro F1 | micro F1 | test examples "
          "| wall s | train examples/s | command |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")


def _read(path: pathlib.Path, label_column: str):
  with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  return [r["text"] for r in rows], [r[label_column] for r in rows]


def trec_peer(folder: pathlib.Path) -> dict:
  from sklearn.feature_extraction.text import TfidfVectorizer  # pylint: disable=import-outside-toplevel
  from sklearn.metrics import accuracy_score, roc_auc_score  # pylint: disable=import-outside-toplevel
  from scipy.special import softmax  # pylint: disable=import-outside-toplevel
  from sklearn.svm import LinearSVC  # pylint: disable=import-outside-toplevel
  start = time.time()
  train_x, train_y = _read(folder / "train.csv", "coarse")
  test_x, test_y = _read(folder / "test.csv", "coarse")
  vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
  model = LinearSVC(C=1.0).fit(vectorizer.fit_transform(train_x), train_y)
  scores = model.decision_function(vectorizer.transform(test_x))
  predicted = model.classes_[scores.argmax(axis=1)]
  return {"accuracy": accuracy_score(test_y, predicted),
          # roc_auc_score wants rows that sum to 1: a softmax of the SVM margins.
          "macro_auc": roc_auc_score(test_y, softmax(scores, axis=1), multi_class="ovr", average="macro",
                                     labels=model.classes_),
          "examples": len(test_x), "wall": time.time() - start, "train": len(train_x)}


def goemotions_peer(folder: pathlib.Path) -> dict:
  from sklearn.feature_extraction.text import TfidfVectorizer  # pylint: disable=import-outside-toplevel
  from sklearn.linear_model import LogisticRegression  # pylint: disable=import-outside-toplevel
  from sklearn.metrics import f1_score, roc_auc_score  # pylint: disable=import-outside-toplevel
  from sklearn.multiclass import OneVsRestClassifier  # pylint: disable=import-outside-toplevel
  from sklearn.preprocessing import MultiLabelBinarizer  # pylint: disable=import-outside-toplevel
  start = time.time()
  splits = {name: _read(folder / f"{name}.csv", "labels") for name in ("train", "dev", "test")}
  binarizer = MultiLabelBinarizer().fit([y.split("|") for y in splits["train"][1]])
  x = {}
  vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
  x["train"] = vectorizer.fit_transform(splits["train"][0])
  x["dev"], x["test"] = (vectorizer.transform(splits[n][0]) for n in ("dev", "test"))
  y = {n: binarizer.transform([v.split("|") for v in splits[n][1]]) for n in splits}
  model = OneVsRestClassifier(LogisticRegression(C=4.0, max_iter=1000), n_jobs=1).fit(x["train"], y["train"])
  chosen = thresholds_lib.choose(y["dev"], model.predict_proba(x["dev"]))
  probabilities = model.predict_proba(x["test"])
  decisions = (probabilities >= chosen).astype(int)
  return {"accuracy": float((decisions == y["test"]).all(axis=1).mean()),
          "macro_auc": roc_auc_score(y["test"], probabilities, average="macro"),
          "micro_auc": roc_auc_score(y["test"], probabilities, average="micro"),
          "macro_f1": f1_score(y["test"], decisions, average="macro", zero_division=0),
          "micro_f1": f1_score(y["test"], decisions, average="micro", zero_division=0),
          "examples": len(splits["test"][0]), "wall": time.time() - start, "train": len(splits["train"][0])}


PEERS = {"trec": ("TF-IDF 1-2 grams + linear SVM (scikit-learn)", trec_peer),
         "goemotions": ("TF-IDF 1-2 grams + one-vs-rest logistic regression, thresholds on dev (scikit-learn)",
                        goemotions_peer)}


def _extract(archive: pathlib.Path, folder: str, work: pathlib.Path) -> pathlib.Path:
  with tarfile.open(archive) as tar:
    tar.extractall(work, filter="data")
  return work / folder


def _row(system: str, values: dict, command: str) -> str:
  f = lambda k: "–" if values.get(k) is None else f"{values[k]:.4f}"  # noqa: E731
  return (f"| {datetime.date.today()} | {machine()} | {system} | {f('accuracy')} | {f('macro_auc')} "
          f"| {f('micro_auc')} | {f('macro_f1')} | {f('micro_f1')} | {values.get('examples', 0):.0f} "
          f"| {values['wall']:.0f} | {values['train'] / values['wall']:.0f} | {command} |")


def _append(section: str) -> None:
  if not RESULTS.exists():
    RESULTS.write_text("# Task kinds on real data\n\nWritten by `make bench-tasks` (benchmarks/task_bench.py); "
                       "accuracy is top-1 (multi-class) or subset accuracy (multi-label); train examples/s = "
                       "training examples / wall seconds of the whole run.\n")
  with open(RESULTS, "a") as f:
    f.write(section)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--datasets", default=",".join(DATASETS))
  p.add_argument("--output-dir", default=str(REPO_ROOT / "outputs" / "bench-tasks"))
  args, extra = p.parse_known_args(argv)
  run.configure_logging()
  for name in args.datasets.split(","):
    archive, folder, flags = DATASETS[name]
    out = pathlib.Path(args.output_dir) / name
    shutil.rmtree(out, ignore_errors=True)
    data = _extract(archive, folder, out / "data")
    command = f"`make bench-tasks ARGS=\"--datasets {name}{' ' + ' '.join(extra) if extra else ''}\"`"
    peer_name, peer = PEERS[name]
    peer_values = peer(data)
    config, _ = cli.parse_config(["run", "--data", str(data), "--output-dir", str(out / "run")] + flags + extra)
    result = run.run(config)
    print("\n" + result.table(), flush=True)
    seconds = component_seconds(config.replace(name=result.pipeline_name).metadata_path)
    ours = {"accuracy": result.accuracy, "macro_auc": result.auc, "micro_auc": result.metrics.get("micro_auc"),
            "macro_f1": result.metrics.get("macro_f1"), "micro_f1": result.metrics.get("micro_f1"),
            "examples": result.metrics.get("example_count", 0), "wall": result.wall_seconds,
            "train": peer_values["train"]}
    system = f"this pipeline: {result.model['embedding_handle']}{'' if result.model['trainable'] else ' (frozen)'}, " \
             f"Trainer {seconds.get('Trainer', 0):.0f} s"
    section = (f"\n### {name} ({result.task['kind']}, {len(result.task['labels'])} labels)\n\n" + HEADER
               + _row(system, ours, command) + "\n" + _row(peer_name, peer_values, command) + "\n")
    print(section, flush=True)
    _append(section)
  print(f"[bench] appended to {RESULTS}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
