"""What --tune buys on each data set: one table per data set in benchmarks/tune_results.md.

    make bench-tune                                        # full IMDB, TREC, GoEmotions
    make bench-tune ARGS="--datasets trec --budget 20"     # one data set, a 20-minute tuning budget

Rows, each a whole pipeline run in a fresh output folder (no baseline, no earlier tuning):
  default      the task kind's default model, no flags
  --tune       the Tuner within --budget minutes, then the Trainer on its best settings
  hand-picked  the best configuration found by hand earlier (docs/results.md)
  peer         the scikit-learn peer trained and scored in the same run on the same files
               (IMDB: NB-LR on word 1-3-grams over the pipeline's own splits; TREC, GoEmotions:
               benchmarks/task_bench.py's)
Columns: accuracy (binary accuracy, top-1, or subset accuracy), AUC, macro-F1 where it
applies, whether the gate blessed the model (it judges AUC and accuracy, or macro-F1 for
multi-label: pipeline/evaluation.py), wall seconds of the whole run (the Tuner included), trials run.
"""
import argparse
import datetime
import pathlib
import shutil
import sys

from benchmarks import nblr_peer
from benchmarks import task_bench
from benchmarks.pipeline_bench import machine
from pipeline import cli
from pipeline import run
from pipeline.config import REPO_ROOT

RESULTS = REPO_ROOT / "benchmarks" / "tune_results.md"
SHARED = REPO_ROOT.parent / "shared" / "data"
DATASETS = {
    # name: (archive, folder inside, data flags, hand-picked model flags)
    "imdb": (SHARED / "aclImdb_v1.tar.gz", "aclImdb", ["--name", "imdb-sentiment"],
             ["--embedding", "nb-word-ngram-bag", "--batch-size", "256", "--learning-rate", "0.003"]),
    "trec": (SHARED / "trec.tar.gz", "trec", ["--label-column", "coarse"],
             ["--embedding", "minilm-l6-encoder", "--fine-tune", "--learning-rate", "5e-5", "--epochs", "4",
              "--batch-size", "32"]),
    "goemotions": (SHARED / "goemotions.tar.gz", "goemotions", ["--label-column", "labels"],
                   ["--embedding", "minilm-wordpiece-bag+use-multilingual-v3", "--dropout", "0.5",
                    "--epochs", "10"]),
}
HEADER = ("| date | machine | system | accuracy | AUC | macro F1 | blessed | wall s | trials | command |\n"
          "|---|---|---|---|---|---|---|---|---|---|\n")


def _row(system: str, accuracy, auc, macro_f1, wall: float, trials, command: str, blessed="–") -> str:
  f = lambda v: "–" if v is None else f"{v:.4f}"  # noqa: E731
  return (f"| {datetime.date.today()} | {machine()} | {system} | {f(accuracy)} | {f(auc)} | {f(macro_f1)} "
          f"| {blessed} | {wall:.0f} | {trials} | {command} |\n")


def _pipeline_row(label: str, data: pathlib.Path, out: pathlib.Path, flags: list, command: str):
  shutil.rmtree(out, ignore_errors=True)
  config, _ = cli.parse_config(["run", "--data", str(data), "--output-dir", str(out)] + flags)
  result = run.run(config)
  print("\n" + result.table(), flush=True)
  trials = len([t for t in result.tuning.get("trials", []) if t["status"] == "completed"]) or "–"
  system = f"{label}: {result.model.get('embedding_handle')}" + (
      "" if result.model.get("trainable", True) else " (frozen)")
  row = _row(system, result.accuracy, result.auc, result.metrics.get("macro_f1"), result.wall_seconds, trials,
             command, blessed="yes" if result.blessed else "no")
  return row, config.replace(name=result.pipeline_name), result


def _peer_row(name: str, data: pathlib.Path, config, result) -> str:
  if name == "imdb":
    uri = nblr_peer.latest_examples_uri(config.metadata_path)
    peer = nblr_peer.nb_logistic_regression(nblr_peer.read_split(uri, "train"), nblr_peer.read_split(uri, "test"),
                                            positive=result.task["labels"][1], ngram_max=3)
    return _row("peer: NB-LR word 1-3-grams (scikit-learn), same splits", peer["accuracy"], peer["auc"], None,
                peer["fit_seconds"] + peer["predict_seconds"], "–", "same run")
  peer_name, peer = task_bench.PEERS[name]
  values = peer(data)
  return _row(f"peer: {peer_name}", values["accuracy"], values["macro_auc"], values.get("macro_f1"),
              values["wall"], "–", "same run")


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--datasets", default=",".join(DATASETS))
  p.add_argument("--budget", type=float, default=60.0, help="the Tuner's budget in minutes (default 60)")
  p.add_argument("--output-dir", default=str(REPO_ROOT / "outputs" / "bench-tune"))
  args = p.parse_args(argv)
  run.configure_logging()
  for name in args.datasets.split(","):
    archive, folder, data_flags, hand_picked = DATASETS[name]
    work = pathlib.Path(args.output_dir) / name
    shutil.rmtree(work / "data", ignore_errors=True)
    data = task_bench._extract(archive, folder, work / "data")  # pylint: disable=protected-access
    command = f"`make bench-tune ARGS=\"--datasets {name} --budget {args.budget:g}\"`"
    rows = []
    for label, flags in (("default", []), (f"--tune (budget {args.budget:g} min)",
                                           ["--tune", "--tune-budget", str(args.budget)]),
                         (f"hand-picked ({' '.join(hand_picked)})", hand_picked)):
      row, config, result = _pipeline_row(label, data, work / label.split()[0].strip("-"), data_flags + flags,
                                          command)
      rows.append(row)
      if label == "default":
        peer = _peer_row(name, data, config, result)
    rows.append(peer)
    section = f"\n### {name}\n\n" + HEADER + "".join(rows)
    print(section, flush=True)
    if not RESULTS.exists():
      RESULTS.write_text("# --tune against the defaults, the hand-picked settings and the peers\n\n"
                         "Written by `make bench-tune` (benchmarks/tune_bench.py); see its docstring.\n")
    with open(RESULTS, "a") as f:
      f.write(section)
  print(f"[bench] appended to {RESULTS}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
