"""Runs the whole pipeline once per registered embedding and appends a results table
to benchmarks/embedding_results.md.

    make bench-embeddings                                       # full IMDB, every offline module
    make bench-embeddings ARGS="--embeddings minilm-bigram-bag --data data/imdb-sentiment"

Each embedding runs with its registry default (fine-tuned or frozen), early stopping on
the eval split (1 in 10 aclImdb/train reviews, by hash of the text), and is judged on the official 25k test reviews,
which nothing uses for model selection. Columns: the Evaluator's test accuracy and AUC;
Trainer and Evaluator seconds from ML Metadata; examples/s = examples in the split the
component reads / its seconds (the Trainer's includes every epoch it ran and the export);
model size = the exported SavedModel on disk. Hub-URL entries are skipped offline.

Beside them, in the same run, the classic CPU peer (benchmarks/nblr_peer.py): NB-weighted
logistic regression on word uni+bi-grams and uni+bi+tri-grams, fitted on the train split
of the first embedding's ExampleGen output and scored on its test split (the same
examples); its Trainer/Evaluator columns are the fit and predict times (`--no-peers` skips).
"""
import argparse
import dataclasses
import datetime
import pathlib
import shutil
import sys

from benchmarks import nblr_peer
from benchmarks.pipeline_bench import component_seconds, machine
from models import task as task_lib
from models.embeddings import registry
from pipeline import run
from pipeline.config import REPO_ROOT, DataConfig, PipelineConfig

RESULTS = REPO_ROOT / "benchmarks" / "embedding_results.md"
FULL_DATA = str(REPO_ROOT.parent / "shared" / "data" / "aclImdb_v1.tar.gz")
HEADER = ("| date | machine | data | embedding | tuning | epochs (max) | batch | dropout | test accuracy | test AUC "
          "| Trainer s | Trainer examples/s | Evaluator s | Evaluator examples/s | model MB | wall s | command |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")


def size_mb(path: str) -> float:
  return sum(f.stat().st_size for f in pathlib.Path(path).rglob("*") if f.is_file()) / 1e6


def split_examples(config: PipelineConfig, split: str) -> int:
  """Examples in a split, as StatisticsGen counted them."""
  import tensorflow_data_validation as tfdv  # pylint: disable=import-outside-toplevel
  stats = sorted(pathlib.Path(config.pipeline_root, "StatisticsGen", "statistics").glob(f"*/Split-{split}/FeatureStats.pb"))
  return int(tfdv.load_stats_binary(str(stats[-1])).datasets[0].num_examples) if stats else 0


def main(argv=None) -> int:
  offline = [name for name, e in registry.REGISTRY.items() if e.build]
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--data", default=FULL_DATA)
  p.add_argument("--embeddings", default=",".join(offline), help=f"comma-separated (default: {','.join(offline)})")
  p.add_argument("--batch-size", type=int, default=None, help="default: the embedding's (registry), else 128")
  p.add_argument("--epochs", type=int, default=PipelineConfig().model.epochs)
  p.add_argument("--learning-rate", type=float, default=None, help="default: the embedding's, else ModelConfig's")
  p.add_argument("--output-dir", default=str(REPO_ROOT / "outputs" / "bench-embeddings"))
  p.add_argument("--no-peers", action="store_true", help="skip the NB-weighted logistic regression rows")
  args = p.parse_args(argv)
  run.configure_logging()
  rows, first = [], None
  for name in args.embeddings.split(","):
    entry = registry.REGISTRY.get(name)
    if entry is not None and not entry.build:
      print(f"[bench] {name}: a hub module ({entry.url}); skipped offline")
      continue
    out = pathlib.Path(args.output_dir) / name
    shutil.rmtree(out, ignore_errors=True)  # a fresh MLMD: no baseline from older runs
    base = PipelineConfig(name="imdb-sentiment")  # the curated IMDB schema; its own output dir
    tuned = registry.training_defaults(name)
    config = base.replace(
        output_dir=str(out), data=DataConfig(path=args.data),
        model=dataclasses.replace(base.model, embedding_handle=name, trainable=registry.default_trainable(name),
                                  batch_size=args.batch_size or tuned.get("batch_size", 128), epochs=args.epochs,
                                  learning_rate=args.learning_rate))  # None: the embedding's (for_task)
    print(f"[bench] {name} ({'fine-tuned' if config.model.trainable else 'frozen'}) on {args.data}", flush=True)
    result = run.run(config)
    print(result.table(), flush=True)
    config = config.replace(name=result.pipeline_name)
    first = first or (config, result)
    times = component_seconds(config.metadata_path)
    model_dirs = sorted(pathlib.Path(config.pipeline_root, "Trainer", "model").glob("*/Format-Serving"))
    n_train, n_test = split_examples(config, "train"), result.metrics.get("example_count", 0)
    trainer_s, evaluator_s = times.get("Trainer", 0), times.get("Evaluator", 0)
    data = "full IMDB" if args.data == FULL_DATA else pathlib.Path(args.data).name
    flags = [] if args.data == FULL_DATA else [f"--data {args.data}"]
    flags.append(f"--embeddings {name}")
    flags += [f"--{flag} {value:g}" for flag, value in (
        ("batch-size", args.batch_size), ("learning-rate", args.learning_rate)) if value]
    rows.append(
        f"| {datetime.date.today()} | {machine()} | {data} | {name} | "
        f"{'fine-tuned' if config.model.trainable else 'frozen'}, lr {result.model['learning_rate']:g} "
        f"| {config.model.epochs} | {config.model.batch_size} "
        f"| {config.model.dropout:g} "
        f"| {result.accuracy or float('nan'):.4f} | {result.auc or float('nan'):.4f} "
        f"| {trainer_s:.0f} | {n_train / trainer_s if trainer_s else 0:.0f} | {evaluator_s:.0f} "
        f"| {n_test / evaluator_s if evaluator_s else 0:.0f} | {size_mb(model_dirs[-1]) if model_dirs else 0:.0f} "
        f"| {result.wall_seconds:.0f} | `make bench-embeddings ARGS='{' '.join(flags)}'` |\n")
    _append(rows[-1])
  if first and not args.no_peers:
    rows += peer_rows(*first, args)
  print("".join(rows))
  return 0


def peer_rows(config: PipelineConfig, result, args) -> list:
  """NB-LR on the splits of a finished run (binary tasks only), appended to the table."""
  labels = result.task["labels"]
  if result.task["kind"] != task_lib.BINARY:
    print(f"[bench] peers skipped: the NB-LR peer is for binary tasks, not {result.task['kind']}")
    return []
  uri = nblr_peer.latest_examples_uri(config.metadata_path)
  train, test = nblr_peer.read_split(uri, "train"), nblr_peer.read_split(uri, "test")
  data = "full IMDB" if args.data == FULL_DATA else pathlib.Path(args.data).name
  rows = []
  for n in (2, 3):
    peer = nblr_peer.nb_logistic_regression(train, test, positive=labels[1], ngram_max=n)
    name = f"peer: NB-LR word 1-{n}-grams (scikit-learn, C=0.1, our tokens)"
    print(f"[bench] {name}: accuracy {peer['accuracy']:.4f}, AUC {peer['auc']:.4f}", flush=True)
    rows.append(
        f"| {datetime.date.today()} | {machine()} | {data} | {name} | - | - | - | - "
        f"| {peer['accuracy']:.4f} | {peer['auc']:.4f} | {peer['fit_seconds']:.0f} "
        f"| {peer['train_examples'] / peer['fit_seconds']:.0f} | {peer['predict_seconds']:.0f} "
        f"| {peer['test_examples'] / peer['predict_seconds']:.0f} | - "
        f"| {peer['fit_seconds'] + peer['predict_seconds']:.0f} | same run as the rows above |\n")
    _append(rows[-1])
  return rows


def _append(row: str) -> None:
  text = RESULTS.read_text() if RESULTS.exists() else (
      "# Embedding benchmark\n\nRows appended by `make bench-embeddings` (benchmarks/embedding_bench.py); "
      "see its docstring for the column definitions.\n\n" + HEADER)
  RESULTS.write_text(text.rstrip("\n") + "\n" + row)
  print(f"[bench] appended to {RESULTS}", flush=True)


if __name__ == "__main__":
  sys.exit(main())
