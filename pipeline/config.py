"""Everything a run can vary, in one frozen config object.

Defaults run the bundled sample offline in a few minutes; the CLI (pipeline/cli.py)
overrides fields from flags. Model hyper-parameters live in models/model.py's
ModelConfig, since the Trainer receives them as data.
"""
import dataclasses
import os
import pathlib
from typing import Optional

from models import features
from models.embeddings import handles
from models.model import ModelConfig

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"

# Beam settings for every Beam-powered component. In-process is fastest on the bundled
# sample; the Beam orchestrator example uses multi-processing with 2 workers.
IN_PROCESS_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
MULTI_PROCESS_BEAM_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where the data enters and how to read it."""
  path: str = str(REPO_ROOT / "data" / "imdb_sample")  # aclImdb folder, .tar.gz, URL or CSV folder
  format: str = "auto"                # auto | aclimdb | csv
  text_column: str = features.DEFAULT_TEXT_KEY
  label_column: str = features.DEFAULT_LABEL_KEY
  eval_percent: int = 20              # eval's share of aclImdb/train (deterministic hash)
  ignored_folders: tuple[str, ...] = ("unsup",)


@dataclasses.dataclass(frozen=True)
class GateConfig:
  """The Evaluator's blessing rule on the test split."""
  min_accuracy: float = 0.70
  min_auc: float = 0.75
  # Against the last blessed model: the candidate may lose at most this much.
  max_accuracy_drop: float = 0.01
  max_auc_drop: float = 0.01


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  name: str = "imdb-sentiment"
  output_dir: str = str(REPO_ROOT / "outputs")
  model_name: str = "imdb_sentiment"            # TF Serving model name
  schema_path: Optional[str] = str(REPO_ROOT / "schemas" / "imdb" / "schema.pbtxt")  # None: infer
  data: DataConfig = DataConfig()
  model: ModelConfig = ModelConfig()
  gate: GateConfig = GateConfig()
  beam_args: tuple[str, ...] = IN_PROCESS_BEAM_ARGS
  cache_dir: str = str(handles.default_cache_dir().parent)  # extracted/downloaded datasets

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_dir, "pipelines", self.name)

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_dir, "metadata", self.name, "metadata.db")

  @property
  def serving_model_dir(self) -> str:
    """TF Serving's model base path: <serving>/<model_name>/<version>/."""
    return os.path.join(self.output_dir, "serving", self.model_name)

  def replace(self, **changes) -> "PipelineConfig":
    return dataclasses.replace(self, **changes)


def config_from_env(environ=None) -> PipelineConfig:
  """PipelineConfig with overrides from TFX_TEXT_DATA, TFX_TEXT_OUTPUT_DIR, TFX_TEXT_NAME,
  TFX_TEXT_EMBEDDING and TFX_TEXT_EPOCHS: how the tfx CLI's pipeline files are configured."""
  env = os.environ if environ is None else environ
  config = PipelineConfig()
  if "TFX_TEXT_DATA" in env:
    config = config.replace(data=dataclasses.replace(config.data, path=env["TFX_TEXT_DATA"]))
  if "TFX_TEXT_OUTPUT_DIR" in env:
    config = config.replace(output_dir=env["TFX_TEXT_OUTPUT_DIR"])
  if "TFX_TEXT_NAME" in env:
    config = config.replace(name=env["TFX_TEXT_NAME"])
  model_changes = {}
  if "TFX_TEXT_EMBEDDING" in env:
    model_changes["embedding_handle"] = env["TFX_TEXT_EMBEDDING"]
  if "TFX_TEXT_EPOCHS" in env:
    model_changes["epochs"] = int(env["TFX_TEXT_EPOCHS"])
  return config.replace(model=dataclasses.replace(config.model, **model_changes)) if model_changes else config
