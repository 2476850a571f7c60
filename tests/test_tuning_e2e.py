"""Model selection through the pipeline: the TFX Tuner (--tune) within a budget, its result
reused by the next run, and embeddings side by side (--embedding a+b)."""
import dataclasses
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  the pushed model's tokenizer ops
import tensorflow_transform as tft
from tfx.components.trainer import fn_args_utils
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs

from components.budget_tuner import executor as budget_tuner

from models import features
from models import model as model_lib
from models import nb_ratio
from models import task as task_lib
from models import trainer
from models import tuner
from pipeline import cli, summary
from pipeline import run
from pipeline.config import TuneConfig
from tests.conftest import NEGATIVE, POSITIVE, fast_config, make_aclimdb

pytestmark = pytest.mark.slow

# The cheap module, held fixed, keeps every trial a few seconds; the Tuner then searches
# the other settings (fine-tuned or frozen, learning rate, batch, dropout, hidden units).
FIXED = ("embedding_handle",)


def _tuned_config(data, out, budget_minutes):
  config = fast_config(data, out, name="tuned")
  return config.replace(tune=TuneConfig(enabled=True, budget_minutes=budget_minutes),
                        model=dataclasses.replace(config.model, fixed=FIXED, epochs=3))


def _trainer_and_tuner_inputs(config):
  """(best_hyperparameters values the Trainer took, split names of the Tuner's examples)."""
  with summary.metadata_store(config.metadata_path) as store:
    trainer_inputs = summary.execution_artifacts(store, summary.latest_execution(store, "Trainer").id)
    tuner_inputs = summary.execution_artifacts(store, summary.latest_execution(store, "BudgetTuner").id)
  [hyperparameters] = trainer_inputs[standard_component_specs.HYPERPARAMETERS_KEY]
  [examples] = tuner_inputs[standard_component_specs.EXAMPLES_KEY]
  values = json.loads(pathlib.Path(hyperparameters.uri, "best_hyperparameters.txt").read_text())["values"]
  split_names = examples.properties.get("split_names") or examples.custom_properties["split_names"]
  return values, json.loads(split_names.string_value)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
  root = tmp_path_factory.mktemp("tune")
  data = make_aclimdb(root / "aclImdb", {"train": 60, "test": 20})
  config = _tuned_config(data, root / "out", budget_minutes=30)
  return config, run.run(config)


def test_the_trainer_trains_with_the_best_trial(tuned):
  config, result = tuned
  trials = [t for t in result.tuning["trials"] if t["status"] == "completed"]
  assert len(trials) >= 5 and not result.tuning["reused"], result.table()
  assert result.tuning["objective"] == "eval_accuracy"
  # Screened candidates ran first at a third of their epochs; only whole trials can be best.
  screened = [t for t in trials if t["stage"].startswith("screening")]
  assert screened and all(t["values"]["epochs"] == 1 for t in screened), result.tuning
  whole = [t for t in trials if t not in screened]
  assert [t["stage"] for t in whole].count("promoted") == (len(screened) + 1) // 2
  best = max(whole, key=lambda t: t["score"])  # ties: the earlier (cheaper) trial
  took, _ = _trainer_and_tuner_inputs(config)
  assert took == best["values"]
  # What the Trainer trained with, as recorded beside the model, is the best trial's.
  assert {k: result.model[k] for k in took} == took
  assert len({json.dumps(t["values"], sort_keys=True) for t in trials}) == len(trials)  # no repeats
  assert all(t["values"]["embedding_handle"] == "minilm-wordpiece-bag" for t in trials)  # the fixed field
  assert {t["values"]["trainable"] for t in trials} == {True, False}
  # Every trial after the first started from an estimate; a frozen one's was measured on the data.
  assert trials[0]["estimate"] is None and all(t["estimate"] > 0 for t in trials[1:]), trials
  table = result.table()
  assert "tuning" in table and f"trial {best['trial']}" in table


def test_the_tuner_never_sees_the_test_split(tuned):
  config, _ = tuned
  _, splits = _trainer_and_tuner_inputs(config)
  assert sorted(splits) == ["eval", "train"]


def test_the_next_run_reuses_the_tuning_and_keeps_the_users_flags(tuned):
  config, first = tuned
  again = config.replace(tune=TuneConfig(enabled=False), resume=True,   # resume: the upstream steps reused
                         model=dataclasses.replace(config.model, fixed=FIXED + ("epochs",), epochs=1))
  result = run.run(again)
  assert result.tuning["reused"] and result.tuning["uri"] == first.tuning["uri"], result.table()
  searched = {k: v for k, v in first.model.items() if k not in ("epochs", "fixed")}
  assert {k: result.model[k] for k in searched} == searched
  assert result.model["epochs"] == 1  # given by the user: not overridden by the tuning
  assert "reused" in result.table()


def _recorded_tuner_run(config):
  """(input_dict, exec_properties) of the latest BudgetTuner execution, read back from
  ML Metadata: the executor can be run again exactly as the pipeline ran it."""
  with summary.metadata_store(config.metadata_path) as store:
    execution = summary.latest_execution(store, "BudgetTuner")
    artifact_types = {t.id: t for t in store.get_artifact_types()}
    input_dict = {key: [artifact_utils.deserialize_artifact(artifact_types[a.type_id], a) for a in artifacts]
                  for key, artifacts in summary.execution_artifacts(store, execution.id).items()}
  exec_properties = {name: value.string_value or value.int_value
                     for name, value in execution.custom_properties.items() if not name.startswith("__")}
  return input_dict, exec_properties


def test_the_budget_stops_trials(tuned, tmp_path):
  """The tuned run's Tuner executor run again as ML Metadata recorded it, with a budget of
  nothing: the first trial runs (it is the default the Trainer would train anyway); no
  other starts, each skipped with the estimate that did not fit."""
  config, _ = tuned
  input_dict, exec_properties = _recorded_tuner_run(config)
  custom_config = json.loads(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])
  custom_config[tuner.TUNE_CONFIG_KEY]["budget_minutes"] = 0
  exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY] = json.dumps(custom_config)
  best, results = standard_artifacts.HyperParameters(), standard_artifacts.TunerResults()
  best.uri, results.uri = str(tmp_path / "best"), str(tmp_path / "results")
  context = base_executor.BaseExecutor.Context(tmp_dir=str(tmp_path / "tmp"), unique_id="budget-test")
  budget_tuner.Executor(context).Do(input_dict, {standard_component_specs.BEST_HYPERPARAMETERS_KEY: [best],
                                                 standard_component_specs.TUNER_RESULTS_KEY: [results]},
                                    exec_properties)
  log = json.loads((tmp_path / "results" / budget_tuner.TRIALS_FILE).read_text())
  statuses = [t["status"] for t in log["trials"]]
  assert statuses[0] == "completed" and set(statuses[1:]) == {"skipped"} and len(statuses) >= 5, log
  assert all("of the budget left" in t["why"] for t in log["trials"][1:])
  assert "budget" in log["stopped_because"] and log["budget_seconds"] == 0
  # The Trainer gets the one trial that ran.
  took = json.loads((tmp_path / "best" / "best_hyperparameters.txt").read_text())["values"]
  assert took == log["trials"][0]["values"]


def test_the_train_order_does_not_depend_on_what_ran_before(tuned):
  """trainer.datasets on the tuned run's own Transform output, as its Tuner read it: the
  train split comes in the same order whatever global seed an earlier trial or run left."""
  config, result = tuned
  input_dict, exec_properties = _recorded_tuner_run(config)
  fn_args = fn_args_utils.get_common_fn_args(input_dict, exec_properties)
  transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  model_config = model_lib.ModelConfig.from_dict(result.model)
  task = task_lib.Task.from_json(json.dumps(result.task))
  orders = []
  for earlier_seed in (1, 2):
    tf.random.set_seed(earlier_seed)
    train, _ = trainer.datasets(fn_args, transform_output, model_config, task)
    orders.append([text for texts, _ in train for text in texts.numpy().tolist()])
  assert len(orders[0]) > 20 and orders[0] == orders[1]


def test_embeddings_side_by_side_serve_raw_text(tmp_path):
  """Two registered modules on the same text, one SavedModel; the NB module in the pair
  still gets its ratios from the train split."""
  data = make_aclimdb(tmp_path / "aclImdb", {"train": 60, "test": 20})
  config = fast_config(data, tmp_path / "out")
  pair = "nb-word-ngram-bag+minilm-wordpiece-bag"
  config = config.replace(model=dataclasses.replace(config.model, embedding_handle=pair, epochs=2))
  result = run.run(config)
  assert result.blessed and result.pushed_to and result.model["embedding_handle"] == pair, result.table()
  model = tf.saved_model.load(result.pushed_to)
  out = model.signatures[features.SERVING_TEXT_SIGNATURE](**{features.TEXT_INPUT: tf.constant([POSITIVE, NEGATIVE])})
  assert out[features.PROBABILITY_OUTPUT].shape == (2, 2)
  [ratio] = [v.numpy() for v in model.variables if nb_ratio.LOG_COUNT_RATIO in v.name]
  assert not np.allclose(ratio, 1.0)
  # Both modules are in the graph: the word-piece bag's table beside the n-gram table.
  assert len([v for v in model.variables if v.shape.rank == 2 and v.shape[0] > 10_000]) >= 2


def test_cli_flags_are_the_fixed_fields():
  config, _ = cli.parse_config(["run", "--tune", "--tune-budget", "5", "--embedding", "minilm-wordpiece-bag",
                                "--learning-rate=0.01"])
  assert config.tune == TuneConfig(enabled=True, budget_minutes=5.0)
  assert config.model.fixed == ("embedding_handle", "learning_rate")
  decided = config.model.for_task(task_lib.Task(task_lib.BINARY, ("a", "b")))
  assert summary.describe_model(dataclasses.asdict(decided)).startswith("minilm-wordpiece-bag (fine-tuned), batch 64, "
                                                                         "learning rate 0.01")
