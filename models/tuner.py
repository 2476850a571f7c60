"""TFX Tuner module: finds the model settings for the user's data within a time budget.

`tuner_fn` is TFX's Tuner contract (FnArgs in, TunerFnResult out). Its tuner is a
keras-tuner BaseTuner whose trials train through the Trainer's own code
(models/trainer.py: fit) on the train split and are scored on the eval split; the test
split never reaches the Tuner (Transform writes none). keras-tuner's Keras `Tuner` class
is not used: it drives model.fit with Keras 3 callbacks, and hub.KerasLayer models are
tf_keras (Keras 2) models (keras-tuner issue 1039). BaseTuner and Oracle are
framework-free, so the search is an Oracle of our own:

  1. a portfolio per task kind: the registered embeddings that suit it, frozen and
     fine-tuned, with the settings measured best for each (benchmarks/), cheapest first;
  2. successive halving where it pays: a fine-tuned candidate of 3 or more epochs is first
     screened at a third of its epochs; the better half of the screened ones then train
     whole (a frozen module's cost is embedding the texts once, so it runs whole at once);
  3. then variations of the best whole trial (learning rate x0.5 / x2, dropout, hidden units).

Only trials that trained for their full epochs can be best: the Trainer takes the best
trial's values, epochs included. The first candidate (the task kind's default) runs whole.

No trial starts that the remaining budget cannot hold: a trial's time is estimated from
the measured trials (the same embedding's, else the latest trial's scaled by the
registry's relative cost). A frozen candidate's cost is embedding the texts once, which
grows with their length far more for an encoder than for a bag (USE frozen on IMDB's
reviews: 749 s against 144 s so estimated), so it is measured instead: its modules embed
a sample of the eval split and the time is scaled to both splits. The first trial always runs. Fields the user fixed on the
command line (ModelConfig.fixed) are held at the user's values in every trial.
"""
import dataclasses
import time
from typing import Optional

import keras_tuner
import numpy as np
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from models import model as model_lib
from models import task as task_lib
from models import thresholds as thresholds_lib
from models import trainer as trainer_lib
from models.embeddings import handles
from models.embeddings import registry

TUNE_CONFIG_KEY = "tune"   # custom_config: pipeline.config.TuneConfig as a dict
# The eval-split score a trial is ranked by: the gate's decision metric
# (pipeline/evaluation.py: DECISION). Binary and multi-class: accuracy (at 0.5 / top-1).
# Multi-label: macro-F1 at thresholds chosen on eval.
OBJECTIVE = {task_lib.BINARY: "eval_accuracy", task_lib.MULTI_CLASS: "eval_accuracy",
             task_lib.MULTI_LABEL: "eval_macro_f1"}
PROBE_TEXTS = 128          # eval texts a frozen candidate's modules embed to time them
FROZEN_HEAD_SHARE = 0.2    # a frozen trial's head training, as a share of its embedding time
SEARCHED = ("embedding_handle", "trainable", "learning_rate", "batch_size", "dropout", "hidden_units", "epochs")

# The portfolio, cheapest first: (embedding, fine-tuned, overrides). The settings come
# from the measured runs in benchmarks/embedding_results.md and task_results.md.
PORTFOLIO = {
    task_lib.BINARY: [
        ("nb-word-ngram-bag", True, {}),
        ("minilm-bigram-bag", True, {}),
        ("nb-word-ngram-bag", True, {"dropout": 0.3, "hidden_units": 64}),
        ("nb-word-ngram-bag+minilm-bigram-bag", True, {}),
        ("use-multilingual-v3", False, {"learning_rate": 3e-3, "hidden_units": 256, "epochs": 10}),
        ("minilm-l6-encoder", True, {"learning_rate": 5e-5, "batch_size": 32, "epochs": 3}),
    ],
    task_lib.MULTI_CLASS: [
        ("minilm-bigram-bag", True, {}),
        ("minilm-wordpiece-bag", True, {"dropout": 0.5}),
        ("use-multilingual-v3", False, {"learning_rate": 3e-3, "hidden_units": 256, "epochs": 20}),
        ("minilm-l6-encoder", False, {"learning_rate": 3e-3, "hidden_units": 256, "epochs": 20}),
        # TREC 0.964 (docs/results.md), found by hand before the Tuner existed.
        ("minilm-l6-encoder", True, {"learning_rate": 5e-5, "batch_size": 32, "epochs": 4}),
    ],
    task_lib.MULTI_LABEL: [
        ("minilm-bigram-bag", True, {}),
        ("minilm-wordpiece-bag", True, {"dropout": 0.5, "epochs": 10}),
        ("use-multilingual-v3", False, {"learning_rate": 3e-3, "hidden_units": 512, "epochs": 20}),
        # GoEmotions macro-F1 0.4642 by hand (docs/results.md), above either module alone.
        # Screened at 3 epochs (eval macro-F1 0.4945); at 1 it scored 0.3910, below the
        # word-piece bag's 3-epoch screening, and was never trained whole.
        ("minilm-wordpiece-bag+use-multilingual-v3", True, {"dropout": 0.5, "epochs": 10}),
        ("minilm-l6-encoder", False, {"learning_rate": 3e-3, "hidden_units": 512, "epochs": 20}),
    ],
}
MAX_VARIATIONS = 4
SCREEN_MIN_EPOCHS = 3   # fine-tuned candidates of at least this many epochs are screened first
SCREEN_FRACTION = 3     # ... at epochs // SCREEN_FRACTION


def _key(values: dict) -> tuple:
  return tuple(sorted(values.items()))


def screening(values: dict) -> Optional[dict]:
  """The cheaper first rung of a candidate, or None where screening does not pay."""
  if not values["trainable"] or values["epochs"] < SCREEN_MIN_EPOCHS:
    return None
  return dict(values, epochs=max(1, values["epochs"] // SCREEN_FRACTION))


def _settings(base: model_lib.ModelConfig, task: task_lib.Task, embedding: str, trainable: bool,
              overrides: dict) -> dict:
  """A trial's values for every searched field, the user's fixed fields kept."""
  proposed = dataclasses.replace(base, **{"embedding_handle": embedding, "trainable": trainable, "batch_size": None,
                                          "learning_rate": None, "hidden_units": None, **overrides})
  proposed = proposed.for_task(task)
  proposed = dataclasses.replace(proposed, hidden_units=model_lib.hidden_units(proposed, task))
  values = {name: getattr(proposed, name) for name in SEARCHED}
  values.update({name: getattr(base, name) for name in base.fixed if name in SEARCHED})
  return values


def portfolio(base: model_lib.ModelConfig, task: task_lib.Task) -> list:
  """The first-stage candidates, duplicates (after fixing the user's fields) removed."""
  seen, result = set(), []
  for embedding, trainable, overrides in PORTFOLIO[task.kind]:
    values = _settings(base, task, embedding, trainable, overrides)
    key = tuple(sorted(values.items()))
    if key not in seen:
      seen.add(key)
      result.append(values)
  return result


def variations(best: dict, fixed) -> list:
  """Second-stage candidates around the best trial's values."""
  changes = [{"learning_rate": best["learning_rate"] * 2}, {"learning_rate": best["learning_rate"] / 2},
             {"dropout": 0.2 if best["dropout"] >= 0.4 else 0.5},
             {"hidden_units": best["hidden_units"] * 4 if best["hidden_units"] < 256 else best["hidden_units"] // 2}]
  return [dict(best, **change) for change in changes if not set(change) & set(fixed)]


def relative_cost(values: dict) -> float:
  """A trial's cost in units of one forward pass of the word-piece bag over the data:
  fine-tuning pays a forward and backward pass (about 3) per epoch; a frozen model
  embeds each text once and then trains the head alone. In a fine-tuned pair, a member
  the registry keeps frozen (models/model.py) pays its forward pass every epoch."""
  handle = values["embedding_handle"]
  if not values["trainable"]:
    return registry.relative_cost(handle)
  modules = handle.split("+")
  tuned = lambda m: len(modules) == 1 or registry.default_trainable(m)  # noqa: E731
  return sum(registry.relative_cost(m) * (3 if tuned(m) else 1) * values["epochs"] for m in modules)


class BudgetOracle(keras_tuner.Oracle):
  """The portfolio (screened where it pays), the better half of the screened trained whole,
  then variations of the best, within a wall-time budget."""

  def __init__(self, candidates: list, budget_seconds: float, objective: str, fixed=(), max_variations=MAX_VARIATIONS,
               frozen_seconds=None):
    # The candidates are listed, not sampled: each trial's values are set whole, and the
    # best trial's HyperParameters config ({"space": [], "values": {...}}) is what TFX
    # writes to best_hyperparameters.txt for the Trainer.
    self.queue = []
    self.screened = {}      # screening values' key -> the candidate's full values
    whole = {_key(v) for v in candidates}
    for i, values in enumerate(candidates):
      rung = screening(values) if i > 0 and "epochs" not in fixed else None
      if rung is not None and _key(rung) not in self.screened and _key(rung) not in whole:
        self.screened[_key(rung)] = values
        self.queue.append(rung)
      else:
        self.queue.append(values)
    super().__init__(objective=keras_tuner.Objective(objective, "max"),
                     max_trials=len(candidates) + len(self.screened) + max_variations, seed=1)
    self.fixed = tuple(fixed)
    self.budget_seconds = budget_seconds
    self.started = None
    self.measured = {}      # trial id -> (values, seconds)
    self.stages = {}        # trial id -> "screening" for first-rung trials
    self.log = []           # every trial and every skipped candidate, in order
    self.stage = "portfolio"
    self.promotions_left = 0
    self.frozen_seconds = frozen_seconds   # values -> measured seconds of a frozen trial (BudgetTuner's)
    self.estimates = {}     # trial id -> the seconds it was estimated at when it started

  def estimate(self, values: dict) -> Optional[float]:
    """Seconds a trial with these values should take, from the measured trials (a frozen
    one's from its modules' measured speed on this data, where the tuner measures it)."""
    if not self.measured:
      return None
    if not values["trainable"] and self.frozen_seconds is not None:
      return self.frozen_seconds(values)
    same = [(v, s) for v, s in self.measured.values()
            if (v["embedding_handle"], v["trainable"]) == (values["embedding_handle"], values["trainable"])]
    reference_values, reference_seconds = (same or list(self.measured.values()))[-1]
    return reference_seconds * relative_cost(values) / relative_cost(reference_values)

  def _scores(self, screening_stage: bool) -> list:
    """(score, values) of the completed trials of one rung, best first (ties: the earlier)."""
    done = []
    for trial_id, (values, _) in self.measured.items():
      trial = self.trials.get(trial_id)
      score = trial.score if trial is not None else None
      if score is not None and (trial_id in self.stages) == screening_stage:
        done.append((score, -len(done), values))
    return [(score, values) for score, _, values in sorted(done, reverse=True)]

  def _next_candidate(self):
    tried = {_key(v) for v, _ in self.measured.values()}
    if not self.queue and self.stage == "portfolio":
      # The better half of the screened, trained whole. All of them are queued, best
      # first, so one the budget cannot hold gives its place to the next that fits.
      self.stage = "promotion"
      screened = self._scores(screening_stage=True)
      self.queue = [self.screened[_key(v)] for _, v in screened]
      self.promotions_left = (len(screened) + 1) // 2
    if self.stage == "promotion" and self.promotions_left == 0:
      self.queue = []
    if not self.queue and self.stage == "promotion":
      self.stage = "variations"
      best = self._scores(screening_stage=False)
      if best:
        self.queue = [v for v in variations(best[0][1], self.fixed) if _key(v) not in tried]
    while self.queue:
      values = self.queue.pop(0)
      if _key(values) not in tried:
        return values
    return None

  def populate_space(self, trial_id):
    if self.started is None:
      self.started = time.time()
    while True:
      values = self._next_candidate()
      if values is None:
        return {"status": keras_tuner.engine.trial.TrialStatus.STOPPED, "values": None}
      remaining = self.budget_seconds - (time.time() - self.started)
      estimate = self.estimate(values)
      if estimate is not None and estimate > remaining:
        self.log.append({"trial": None, "status": "skipped", "values": values, "seconds": None, "score": None,
                         "stage": self._stage_of(values),
                         "why": f"estimated {estimate:.0f} s, {max(remaining, 0):.0f} s of the budget left"})
        continue
      if estimate is not None:
        self.estimates[trial_id] = round(estimate, 1)
      if _key(values) in self.screened:
        self.stages[trial_id] = "screening"
      if self.stage == "promotion":
        self.promotions_left -= 1
      return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING, "values": values}

  def _stage_of(self, values: dict) -> str:
    if _key(values) in self.screened:
      return f"screening ({values['epochs']} of {self.screened[_key(values)]['epochs']} epochs)"
    return {"portfolio": "whole", "promotion": "promoted", "variations": "variation"}[self.stage]

  def stage_of_trial(self, trial) -> str:
    return self._stage_of(trial.hyperparameters.values)

  def get_best_trials(self, num_trials=1):
    """Only trials trained for their full epochs: the Trainer takes the best one's values."""
    whole = [t for t in super().get_best_trials(len(self.trials)) if t.trial_id not in self.stages]
    return whole[:num_trials]


class BudgetTuner(keras_tuner.engine.base_tuner.BaseTuner):
  """Runs each trial with the Trainer's code and records its score and seconds."""

  def __init__(self, oracle: BudgetOracle, fn_args, base: model_lib.ModelConfig, task: task_lib.Task):
    super().__init__(oracle=oracle, directory=fn_args.working_dir, project_name="tuning", overwrite=True)
    self.fn_args, self.base, self.task = fn_args, base, task
    self._transform_output = None
    self._frozen = {}            # embedding handle -> measured seconds of its frozen trial
    self._texts = None           # examples in the train and eval splits, counted once
    oracle.frozen_seconds = self.frozen_seconds

  def _datasets(self, values: dict):
    if self._transform_output is None:
      import tensorflow_transform as tft  # pylint: disable=import-outside-toplevel
      self._transform_output = tft.TFTransformOutput(self.fn_args.transform_graph_path)
    config = dataclasses.replace(self.base, **values)
    return config, *trainer_lib.datasets(self.fn_args, self._transform_output, config, self.task)

  def frozen_seconds(self, values: dict) -> float:
    """What a frozen trial costs on this data: loading its modules, and embedding the
    train and eval splits once, timed on PROBE_TEXTS eval texts (after one warm-up batch)
    and scaled to the splits' size; the head's epochs on cached vectors are small beside
    it (FROZEN_HEAD_SHARE)."""
    handle = values["embedding_handle"]
    if handle not in self._frozen:
      start = time.time()
      config, _, evaluation = self._datasets(values)
      texts = next(iter(evaluation.unbatch().batch(PROBE_TEXTS)))[0]
      layers = model_lib.embedding_layers(config, handles.resolve_all(handle))
      for layer in layers:
        layer(texts[:8])
      loaded = time.time() - start
      probe = time.time()
      for layer in layers:
        layer(texts)
      per_text = (time.time() - probe) / len(texts)
      if self._texts is None:
        self._texts = _records(self.fn_args.train_files + self.fn_args.eval_files)
      self._frozen[handle] = (loaded + per_text * self._texts) * (1 + FROZEN_HEAD_SHARE)
      print(f"[tuner] {handle} frozen: {1000 * per_text:.1f} ms a text on {len(texts)} eval texts; "
            f"{self._texts:,} texts to embed, about {self._frozen[handle]:.0f} s (measured in {time.time() - start:.0f} s)",
            flush=True)
    return self._frozen[handle]

  def run_trial(self, trial, *args, **kwargs):
    values = trial.hyperparameters.values
    print(f"[tuner] trial {trial.trial_id}: " + ", ".join(f"{k}={v}" for k, v in values.items()), flush=True)
    start = time.time()
    config, train, evaluation = self._datasets(values)
    model = trainer_lib.fit(config, self.task, train, evaluation)
    score = eval_score(*trainer_lib.eval_predictions(model, evaluation, self.task), self.task)
    seconds = time.time() - start
    self.oracle.measured[trial.trial_id] = (dict(values), seconds)
    self.oracle.log.append({"trial": trial.trial_id, "status": "completed", "values": dict(values),
                            "seconds": round(seconds, 1), "estimate": self.oracle.estimates.get(trial.trial_id),
                            "score": score, "stage": self.oracle.stage_of_trial(trial)})
    print(f"[tuner] trial {trial.trial_id}: {self.oracle.objective.name} {score:.4f} in {seconds:.0f} s", flush=True)
    return {self.oracle.objective.name: score}

  def trial_log(self) -> dict:
    """What BudgetTuner's executor writes beside TFX's tuner_results.json."""
    skipped = sum(t["status"] == "skipped" for t in self.oracle.log)
    stopped = (f"every candidate tried but {skipped}, which the budget could not hold" if skipped
               else "every candidate tried")
    return {"objective": self.oracle.objective.name, "budget_seconds": self.oracle.budget_seconds,
            "stopped_because": stopped, "trials": self.oracle.log}


def _records(file_patterns: list) -> int:
  """Examples in Transform's output files (read, not parsed: the train split unshuffled)."""
  files = [f for pattern in file_patterns for f in tf.io.gfile.glob(pattern)]
  return sum(int(tf.data.TFRecordDataset(f, compression_type="GZIP" if f.endswith(".gz") else "")
                 .reduce(0, lambda n, _: n + 1)) for f in files)


def eval_score(labels, probabilities, task: task_lib.Task) -> float:
  """The trial's objective on the eval split (OBJECTIVE)."""
  if task.kind == task_lib.BINARY:
    return float(((probabilities.reshape(-1) >= 0.5) == (labels.reshape(-1) > 0.5)).mean())
  if task.kind == task_lib.MULTI_CLASS:
    return float((probabilities.argmax(axis=1) == labels.reshape(-1)).mean())
  thresholds = thresholds_lib.choose(labels, probabilities)
  return float(np.mean(thresholds_lib.f1_per_label(labels, (probabilities >= thresholds).astype(float))))


def tuner_fn(fn_args: FnArgs):
  """TFX Tuner entry point."""
  custom = fn_args.custom_config or {}
  base = model_lib.ModelConfig.from_dict(custom.get(trainer_lib.MODEL_CONFIG_KEY, {}))
  task = task_lib.Task.from_json(custom[trainer_lib.TASK_CONFIG_KEY])
  budget = float(custom.get(TUNE_CONFIG_KEY, {}).get("budget_minutes", 30.0)) * 60
  oracle = BudgetOracle(portfolio(base, task), budget, OBJECTIVE[task.kind], fixed=base.fixed)
  # verbose 0: keras-tuner's own per-trial tables stay out of the terminal ("[tuner]" lines say it).
  return TunerFnResult(tuner=BudgetTuner(oracle, fn_args, base, task), fit_kwargs={"verbose": 0})
