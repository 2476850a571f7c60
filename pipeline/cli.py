"""Command line: `python -m pipeline.cli run [options]` (see README.md)."""
import argparse
import dataclasses
import os
import pathlib
import re
import sys

from pipeline.terminal import native_stderr_silenced, quiet

# Before anything imports TensorFlow: the terminal shows progress and the table.
QUIET = quiet(__name__ == "__main__" and "--verbose" not in sys.argv[1:])


with native_stderr_silenced(QUIET):
  from components.errors import AnomaliesFoundError, InputDataError  # noqa: E402
  from models import model as model_lib  # noqa: E402
  from models import task as task_lib  # noqa: E402
  from models.embeddings import registry  # noqa: E402
  from models.embeddings.handles import EmbeddingHandleError  # noqa: E402
  from models.embeddings.minilm_files import PretrainedFilesError  # noqa: E402
  from pipeline.config import (DataConfig, GateConfig, INFRA_VALIDATORS, PipelineConfig,  # noqa: E402
                               TuneConfig)
  from pipeline.run_lock import PipelineBusyError  # noqa: E402

USER_ERRORS = (InputDataError, AnomaliesFoundError, EmbeddingHandleError, PretrainedFilesError, PipelineBusyError)
_ERROR_IN_TEXT = re.compile(r"(?:^|[.\s'\"])(" + "|".join(e.__name__ for e in USER_ERRORS) + r"): (.*)", re.S)


def user_error_message(error: BaseException) -> str | None:
  """The message of a user-facing error, also when Beam re-raised it as text."""
  seen = error
  while seen is not None:
    if isinstance(seen, USER_ERRORS):
      return f"{type(seen).__name__}: {seen}"
    seen = seen.__cause__ or seen.__context__
  match = _ERROR_IN_TEXT.search(str(error))
  if match:
    text = match.group(2).split(" [while running")[0].split("\n\nDuring handling")[0]
    return f"{match.group(1)}: {text.strip()}"
  return None


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
  """The data options, shared by `make run` and `make schema` so both read data alike."""
  defaults = DataConfig()
  parser.add_argument("--data", default=defaults.path,
                      help="class folders (<split>/<class>/*.txt or <class>/*.txt), a folder of CSV or JSON Lines "
                           "files (train/dev/test named, or any), one such file, a .tar.gz of any, or its URL "
                           "(default: the bundled IMDB sample)")
  parser.add_argument("--text-column", default=defaults.text_column)
  parser.add_argument("--label-column", default=defaults.label_column)
  parser.add_argument("--task", default="auto", choices=["auto", *task_lib.KINDS],
                      help="auto: several labels in a row -> multi-label, else 2 labels -> binary, more -> multi-class")
  parser.add_argument("--label-delimiter", default=defaults.label_delimiter,
                      help="joins a row's labels in one CSV field (multi-label)")


def data_config(args: argparse.Namespace) -> DataConfig:
  return DataConfig(path=args.data, text_column=args.text_column, label_column=args.label_column,
                    task=args.task, label_delimiter=args.label_delimiter)


def parse_config(argv) -> tuple[PipelineConfig, argparse.Namespace]:
  defaults = PipelineConfig()
  p = argparse.ArgumentParser(prog="python -m pipeline.cli", description="Run the text-classification TFX pipeline.")
  sub = p.add_subparsers(dest="command", required=True)
  run = sub.add_parser("run", help="run the whole pipeline and print the test metrics and the push", allow_abbrev=False,
                       epilog="registered embeddings (--embedding NAME):\n" + registry.describe(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
  add_data_arguments(run)
  run.add_argument("--schema", default=None,
                   help="curated schema.pbtxt (default: schemas/<name>/schema.pbtxt where it exists, else inferred)")
  run.add_argument("--infer-schema", action="store_true", help="infer the schema with SchemaGen even so")
  run.add_argument("--runner", default="local", choices=["local", "beam"])
  run.add_argument("--output-dir", default=defaults.output_dir)
  run.add_argument("--name", default=None,
                   help="pipeline name: its own ML Metadata history, outputs and baseline (default: the data folder's name)")
  run.add_argument("--model-name", default=None, help="TF Serving model name (default: the pipeline name)")
  run.add_argument("--embedding", default=defaults.model.embedding_handle,
                   help="a registered name (see below), a local SavedModel path, a TF Hub URL, "
                        "or a Kaggle / TF Hub handle (fetched into TFHUB_CACHE_DIR); default by the task's kind: "
                        + ", ".join(f"{kind} {name}" for kind, name in model_lib.DEFAULT_EMBEDDING.items()))
  tuning = run.add_mutually_exclusive_group()
  tuning.add_argument("--frozen", action="store_true", help="keep the embedding frozen (trainable=False)")
  tuning.add_argument("--fine-tune", action="store_true", help="fine-tune the embedding (trainable=True)")
  run.add_argument("--epochs", type=int, default=defaults.model.epochs)
  run.add_argument("--batch-size", type=int, default=None,
                   help=f"default: the embedding's measured best, else {model_lib.BATCH_SIZE}")
  run.add_argument("--learning-rate", type=float, default=None,
                   help=f"default: the embedding's measured best, else {model_lib.LEARNING_RATE:g}")
  run.add_argument("--dropout", type=float, default=defaults.model.dropout, help="dropout on the embedding")
  run.add_argument("--hidden-units", type=int, default=None,
                   help="units of the Dense(relu) layer (default: 16, the tutorial's; 256 for multi-label)")
  run.add_argument("--tune", action="store_true",
                   help="search the model settings first (TFX Tuner: embeddings, learning rate, dropout, hidden units, "
                        "batch size, epochs; scored on the eval split); later runs reuse the result until --tune "
                        "is given again. Flags set here stay fixed")
  run.add_argument("--tune-budget", type=float, default=defaults.tune.budget_minutes, metavar="MINUTES",
                   help="wall time for the Tuner's trials (default %(default)s): no trial starts that it cannot hold")
  run.add_argument("--min-accuracy", type=float, default=None,
                   help="an absolute floor for the gate's decision metric (accuracy; multi-label: macro-F1); default: "
                        "fitted to the test split, a margin above the majority class / every label predicted")
  run.add_argument("--min-auc", type=float, default=None,
                   help="an absolute AUC floor; default: fitted to the test split, a margin above 0.5")
  run.add_argument("--infra-validator", default=defaults.infra_validator, choices=INFRA_VALIDATORS,
                   help="what loads and queries the candidate over gRPC and REST before it may be pushed: the "
                        "local TF Serving-compatible server in its own process (default), TFX's InfraValidator "
                        "with the tensorflow/serving image in docker or podman (DOCKER_HOST), or none")
  run.add_argument("--intended-use", default=None, metavar="FILE",
                   help="Markdown for the model card's intended-use section: who should use the model, for what, "
                        "and what not (the card is pushed with the model: serving/README.md)")
  run.add_argument("--no-model-card", dest="model_card", action="store_false",
                   help="no model card and no predictions on the test split (BulkInferrer): a faster run")
  run.add_argument("--beam-arg", action="append", default=None, metavar="OPTION",
                   help="a Beam pipeline option for every Beam-powered component, repeatable "
                        "(--beam-arg=--runner=FlinkRunner); replaces the DirectRunner defaults")
  run.add_argument("--resume", action="store_true",
                   help="reuse the outputs of components whose inputs, settings and code are unchanged since "
                        "they last completed (TFX's cache): a killed run starts again where it stopped")
  run.add_argument("--verbose", action="store_true", help="show all TFX, Beam and TF logs")
  args = p.parse_args(argv)
  intended_use = ""
  if args.intended_use:
    try:
      intended_use = pathlib.Path(args.intended_use).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
      p.error(f"--intended-use {args.intended_use}: {e}")
  config = PipelineConfig(
      name=args.name, model_name=args.model_name,
      output_dir=str(pathlib.Path(args.output_dir).resolve()),
      schema_path=args.schema, infer_schema=args.infer_schema, resume=args.resume,
      infra_validator=args.infra_validator, intended_use=intended_use, model_card=args.model_card,
      beam_args=tuple(args.beam_arg or ()),
      data=data_config(args),
      model=dataclasses.replace(defaults.model, embedding_handle=args.embedding,
                                trainable=(not args.frozen) if (args.frozen or args.fine_tune) else None,
                                epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                                dropout=args.dropout,
                                hidden_units=args.hidden_units),
      gate=dataclasses.replace(GateConfig(), min_accuracy=args.min_accuracy, min_auc=args.min_auc),
      tune=TuneConfig(enabled=args.tune, budget_minutes=args.tune_budget))
  return config.replace(model=dataclasses.replace(config.model, fixed=_fixed_model_fields(argv))), args


# Model flags -> the ModelConfig fields they set: given on the command line, they are the
# user's choice, which neither the Tuner nor a reused tuning result overrides.
MODEL_FLAGS = {"--embedding": ("embedding_handle",), "--frozen": ("trainable",), "--fine-tune": ("trainable",),
               "--epochs": ("epochs",), "--batch-size": ("batch_size",), "--learning-rate": ("learning_rate",),
               "--dropout": ("dropout",), "--hidden-units": ("hidden_units",)}


def _fixed_model_fields(argv) -> tuple:
  given = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
  return tuple(sorted({field for flag, fields in MODEL_FLAGS.items() if flag in given for field in fields}))


def main(argv=None) -> int:
  config, args = parse_config(argv if argv is not None else sys.argv[1:])
  with native_stderr_silenced(QUIET):
    from pipeline import run as runner  # pylint: disable=import-outside-toplevel  (imports TFX, TFMA)
  runner.configure_logging(args.verbose)
  print(f"[pipeline] data {config.data.path}, embedding {config.model.embedding_handle or 'by task kind'}, "
        f"runner {args.runner}, outputs {config.output_dir}", flush=True)
  try:
    result = runner.run(config, args.runner)
  except Exception as e:  # pylint: disable=broad-except
    message = user_error_message(e)
    if message is None:
      raise
    print(f"\n[pipeline] FAILED, nothing was pushed.\n{message}", file=sys.stderr, flush=True)
    return 2
  os.makedirs(config.output_dir, exist_ok=True)
  with open(config.last_run_path, "w") as f:
    f.write(result.to_json())
  print("\n" + result.table(), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
