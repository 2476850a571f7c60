"""Everything a run can vary, in one frozen config object.

Defaults run the bundled sample offline in a few minutes; the CLI (pipeline/cli.py)
overrides fields from flags. Model hyper-parameters live in models/model.py's
ModelConfig, since the Trainer receives them as data.
"""
import dataclasses
import os
from typing import Optional

from models import features
from models import task as task_lib
from models.model import ModelConfig
from pipeline import paths
from pipeline.paths import LAST_RUN_FILE, REPO_ROOT
from pipeline.runners.worker_pool import PIPELINE_IMAGE  # `make image`; defined where the host reads it

# Beam settings for every Beam-powered component, unless --beam-arg gives others. In-process
# is fastest on the bundled sample, and on 400k rows as fast as 2 worker processes with half
# the memory (benchmarks/scale_results.md); the Beam orchestrator and Kubeflow use 2 worker processes.
IN_PROCESS_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
MULTI_PROCESS_BEAM_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")

# The Beam options by which TFX's BaseBeamExecutor learns where Beam's workers get TFX from.
BEAM_DEPENDENCY_OPTIONS = ("--extra_package", "--extra_packages", "--setup_file", "--requirements_file",
                           "--worker_harness_container_image", "--sdk_container_image")


def with_workers_image(beam_args, image: str = PIPELINE_IMAGE) -> list:
  """beam_args, naming the image Beam's SDK workers run in unless an option already says where
  their dependencies come from. Without one, every Beam-powered step builds an sdist of TFX for
  the workers (tfx.utils.dependency_utils, 1.8 s) and leaves it, 42 MB, in the temp folder: 48 GB
  of them had piled up on the machine that runs the tests. Our workers never need it: they run
  in this environment, the worker pool or the pipeline image, each with TFX installed. The
  DirectRunner and portable runners do not start workers from it; Dataflow does."""
  args = list(beam_args)
  if any(arg.split("=", 1)[0] in BEAM_DEPENDENCY_OPTIONS for arg in args):
    return args
  return args + [f"--sdk_container_image={image}"]


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where the data enters and how to read it (pipeline/inputs.py)."""
  path: str = str(REPO_ROOT / "data" / "imdb-sentiment")  # folder, file, .tar.gz or URL
  text_column: str = features.DEFAULT_TEXT_KEY
  label_column: str = features.DEFAULT_LABEL_KEY
  label_delimiter: str = task_lib.DEFAULT_LABEL_DELIMITER  # multi-label: "drama|comedy"
  task: str = "auto"                  # auto | binary | multi-class | multi-label
  # Hash buckets of a split the data lacks: a single pool becomes train/eval/test 8/1/1;
  # data with train and test but no eval gives 1 of 10 train examples to eval.
  pool_buckets: tuple[int, int, int] = (8, 1, 1)
  holdout_buckets: int = 10
  ignored_folders: tuple[str, ...] = ("unsup",)  # unlabelled class folders (aclImdb/train/unsup)


@dataclasses.dataclass(frozen=True)
class GateConfig:
  """The Evaluator's blessing rule on the test split (pipeline/evaluation.py). The
  "accuracy" settings are the decision metric's: accuracy for binary and multi-class,
  macro-F1 at the decision thresholds for multi-label."""
  # Absolute floors; None: fitted to the test split, a margin above a trivial predictor
  # (components/fitted_gate_evaluator/floors.py).
  min_accuracy: Optional[float] = None
  min_auc: Optional[float] = None
  # Against the last blessed model: the candidate may lose at most this much.
  max_accuracy_drop: float = 0.01
  max_auc_drop: float = 0.01


@dataclasses.dataclass(frozen=True)
class TuneConfig:
  """--tune: the Tuner searches the model settings (models/tuner.py) within a budget."""
  enabled: bool = False
  budget_minutes: float = 30.0   # wall time for all trials; no trial starts that it cannot hold


# --infra-validator: what loads and queries the candidate before the Pusher may push it.
LOCAL_SERVER, TF_SERVING, NO_INFRA_VALIDATION = "local-server", "tf-serving", "none"
INFRA_VALIDATORS = (LOCAL_SERVER, TF_SERVING, NO_INFRA_VALIDATION)


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  # The data set's own pipeline: name, ML Metadata history, pipeline root and TF Serving
  # model name. None: the data folder's name (pipeline/inputs.py: Dataset.name).
  name: Optional[str] = None
  output_dir: str = str(paths.OUTPUT_DIR)
  model_name: Optional[str] = None             # TF Serving model name; None: from the pipeline name
  # The curated schema; None: schemas/<name>/schema.pbtxt where it exists, else inferred.
  schema_path: Optional[str] = None
  infer_schema: bool = False                   # SchemaGen even where a curated schema exists
  data: DataConfig = DataConfig()
  model: ModelConfig = ModelConfig()
  gate: GateConfig = GateConfig()
  tune: TuneConfig = TuneConfig()
  # local-server: components/local_infra_validator (the stand-in server, in its own
  # process); tf-serving: TFX's InfraValidator with the tensorflow/serving image in docker
  # or podman (pipeline/pipeline.py); none: no infra validation.
  infra_validator: str = LOCAL_SERVER
  # The model card's intended-use section: Markdown the user wrote (--intended-use FILE,
  # read by the command line), or "".
  intended_use: str = ""
  # The model card (BulkInferrer on the test split, then ModelCardGenerator), pushed with
  # the model; --no-model-card leaves both out (on 25k test texts they take about 30 s).
  model_card: bool = True
  # Beam pipeline options for every Beam-powered component (--beam-arg, repeatable): they
  # replace the orchestrator's DirectRunner defaults above (docs/running.md: Beam past one machine).
  beam_args: tuple[str, ...] = ()
  # --resume: reuse the outputs of components whose inputs, settings and sources are
  # unchanged (TFX's cache). sources_sha256 (pipeline/sources.py, set by run.prepare) is
  # what makes the cache see code and curated-schema changes.
  resume: bool = False
  sources_sha256: str = ""
  cache_dir: str = str(paths.cache_root())  # extracted/downloaded datasets

  @property
  def curated_schema(self) -> Optional[str]:
    """The schema ExampleValidator enforces, or None when SchemaGen infers one."""
    if self.infer_schema:
      return None
    if self.schema_path:
      return self.schema_path
    default = REPO_ROOT / "schemas" / (self.name or "") / "schema.pbtxt"
    return str(default) if self.name and default.exists() else None

  @property
  def serving_name(self) -> str:
    """TF Serving's model name: --model-name, else the pipeline name with _ for -."""
    return self.model_name or self.name.replace("-", "_")

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_dir, "pipelines", self.name)

  @property
  def last_run_path(self) -> str:
    """The latest run's RunSummary as JSON (what `make report` and the serving CLI default to)."""
    return os.path.join(self.output_dir, LAST_RUN_FILE)

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_dir, "metadata", self.name, "metadata.db")

  @property
  def serving_model_dir(self) -> str:
    """TF Serving's model base path: <serving>/<model_name>/<version>/."""
    return paths.serving_model_dir(self.serving_name, self.output_dir)

  def beam_pipeline_args(self, orchestrator_default=IN_PROCESS_BEAM_ARGS) -> list:
    """The --beam-arg options where given, else the orchestrator's DirectRunner settings;
    either way naming where the workers' dependencies are (with_workers_image)."""
    return with_workers_image(self.beam_args or orchestrator_default)

  def replace(self, **changes) -> "PipelineConfig":
    return dataclasses.replace(self, **changes)


def config_from_env(environ=None) -> PipelineConfig:
  """PipelineConfig with overrides from TFX_TEXT_DATA, TFX_TEXT_TEXT_COLUMN,
  TFX_TEXT_LABEL_COLUMN, TFX_TEXT_TASK, TFX_TEXT_OUTPUT_DIR, TFX_TEXT_NAME,
  TFX_TEXT_EMBEDDING, TFX_TEXT_EPOCHS, TFX_TEXT_BEAM_ARGS (space-separated),
  TFX_TEXT_INFRA_VALIDATOR (as --infra-validator) and TFX_TEXT_MODEL_CARD (0: as
  --no-model-card): how the tfx CLI's pipeline files are configured."""
  env = os.environ if environ is None else environ
  config = PipelineConfig()
  data_changes = {field: env[var] for var, field in (
      ("TFX_TEXT_DATA", "path"), ("TFX_TEXT_TEXT_COLUMN", "text_column"),
      ("TFX_TEXT_LABEL_COLUMN", "label_column"), ("TFX_TEXT_TASK", "task")) if var in env}
  if data_changes:
    config = config.replace(data=dataclasses.replace(config.data, **data_changes))
  if "TFX_TEXT_OUTPUT_DIR" in env:
    config = config.replace(output_dir=env["TFX_TEXT_OUTPUT_DIR"])
  if "TFX_TEXT_NAME" in env:
    config = config.replace(name=env["TFX_TEXT_NAME"])
  if env.get("TFX_TEXT_BEAM_ARGS"):
    config = config.replace(beam_args=tuple(env["TFX_TEXT_BEAM_ARGS"].split()))
  if "TFX_TEXT_INFRA_VALIDATOR" in env:
    if env["TFX_TEXT_INFRA_VALIDATOR"] not in INFRA_VALIDATORS:
      raise ValueError(f"TFX_TEXT_INFRA_VALIDATOR={env['TFX_TEXT_INFRA_VALIDATOR']!r}: expected one of "
                       f"{', '.join(INFRA_VALIDATORS)}")
    config = config.replace(infra_validator=env["TFX_TEXT_INFRA_VALIDATOR"])
  if "TFX_TEXT_MODEL_CARD" in env:
    if env["TFX_TEXT_MODEL_CARD"] not in ("0", "1"):
      raise ValueError(f"TFX_TEXT_MODEL_CARD={env['TFX_TEXT_MODEL_CARD']!r}: expected 0 or 1")
    config = config.replace(model_card=env["TFX_TEXT_MODEL_CARD"] == "1")
  model_changes = {}
  if "TFX_TEXT_EMBEDDING" in env:
    model_changes["embedding_handle"] = env["TFX_TEXT_EMBEDDING"]
  if "TFX_TEXT_EPOCHS" in env:
    model_changes["epochs"] = int(env["TFX_TEXT_EPOCHS"])
  return config.replace(model=dataclasses.replace(config.model, **model_changes)) if model_changes else config
