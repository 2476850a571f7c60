"""The Tuner's search order (models/tuner.py: BudgetOracle), driven as keras-tuner's
BaseTuner drives it (create_trial, update_trial, end_trial) with scores given here, so
successive halving and the budget can be checked in seconds; test_tuning_e2e.py runs it
inside the pipeline with real trials."""
import keras_tuner

from models import model as model_lib
from models import task as task_lib
from models import tuner

BINARY = task_lib.Task(task_lib.BINARY, ("neg", "pos"))
COMPLETED, STOPPED = keras_tuner.engine.trial.TrialStatus.COMPLETED, keras_tuner.engine.trial.TrialStatus.STOPPED


def _search(oracle, score, tmp_path, seconds=lambda values: 1.0) -> list:
  """Every trial's (values, stage, score), as BudgetTuner.run_trial would record them."""
  oracle._set_project_dir(str(tmp_path), "oracle")   # pylint: disable=protected-access  (what BaseTuner does)
  ran = []
  while True:
    trial = oracle.create_trial("tuner0")
    if trial.status == STOPPED:
      return ran
    values = dict(trial.hyperparameters.values)
    oracle.measured[trial.trial_id] = (values, seconds(values))
    ran.append((values, oracle.stage_of_trial(trial), score(values)))
    oracle.update_trial(trial.trial_id, {oracle.objective.name: score(values)})
    trial.status = COMPLETED
    oracle.end_trial(trial)


def test_fine_tuned_candidates_are_screened_and_the_better_half_trains_whole(tmp_path):
  candidates = tuner.portfolio(model_lib.ModelConfig(), BINARY)
  # A screening score that ranks the candidates; whole trials score a little higher.
  rank = {tuple(sorted(c.items())): i for i, c in enumerate(candidates)}
  full_of = {tuple(sorted(tuner.screening(c).items())): c for c in candidates if tuner.screening(c)}

  def score(values):
    key = tuple(sorted(values.items()))
    if key in full_of:   # screening: the later in the portfolio, the better
      return 0.5 + 0.01 * rank[tuple(sorted(full_of[key].items()))]
    return 0.6 + 0.01 * rank.get(key, 0)

  oracle = tuner.BudgetOracle(candidates, budget_seconds=3600, objective="eval_accuracy")
  ran = _search(oracle, score, tmp_path)
  stages = [stage for _, stage, _ in ran]
  assert ran[0][0] == candidates[0] and stages[0] == "whole"   # the default runs whole, first
  screened = [(values, s) for values, stage, s in ran if stage.startswith("screening")]
  fine_tuned_long = [c for c in candidates[1:] if c["trainable"] and c["epochs"] >= tuner.SCREEN_MIN_EPOCHS]
  assert len(screened) == len(fine_tuned_long) >= 2
  assert all(v["epochs"] == max(1, full_of[tuple(sorted(v.items()))]["epochs"] // 3) for v, _ in screened)
  # The better half of the screened candidates, and only they, then train whole.
  better_half = sorted(screened, key=lambda vs: -vs[1])[:(len(screened) + 1) // 2]
  promoted = [values for values, stage, _ in ran if stage == "promoted"]
  assert promoted == [full_of[tuple(sorted(v.items()))] for v, _ in better_half]
  assert all(stage in ("whole", "promoted", "variation") or stage.startswith("screening") for stage in stages)
  # The best is a whole trial even when a screening trial scored higher.
  best = oracle.get_best_trials(1)[0].hyperparameters.values
  assert best not in [v for v, _ in screened]
  assert best == max(((v, s) for v, stage, s in ran if not stage.startswith("screening")), key=lambda vs: vs[1])[0]


def test_a_best_screening_score_never_becomes_the_trainers_settings(tmp_path):
  candidates = tuner.portfolio(model_lib.ModelConfig(), BINARY)
  screening_keys = {tuple(sorted(tuner.screening(c).items())) for c in candidates if tuner.screening(c)}
  oracle = tuner.BudgetOracle(candidates, budget_seconds=3600, objective="eval_accuracy")
  _search(oracle, lambda v: 0.99 if tuple(sorted(v.items())) in screening_keys else 0.7, tmp_path)
  best = oracle.get_best_trials(1)[0].hyperparameters.values
  assert tuple(sorted(best.items())) not in screening_keys


def test_epochs_fixed_by_the_user_are_never_screened(tmp_path):
  base = model_lib.ModelConfig(epochs=6, fixed=("epochs",))
  candidates = tuner.portfolio(base, BINARY)
  oracle = tuner.BudgetOracle(candidates, budget_seconds=3600, objective="eval_accuracy", fixed=base.fixed)
  ran = _search(oracle, lambda v: 0.7, tmp_path)
  assert {values["epochs"] for values, _, _ in ran} == {6}
  assert not any(stage.startswith("screening") for _, stage, _ in ran)


def test_no_trial_starts_that_the_budget_cannot_hold(tmp_path):
  """A budget of nothing: the first trial (the default) runs; every other is skipped with
  the estimate (100 s per unit of relative cost, from the first) that did not fit."""
  candidates = tuner.portfolio(model_lib.ModelConfig(), BINARY)
  oracle = tuner.BudgetOracle(candidates, budget_seconds=0, objective="eval_accuracy")
  ran = _search(oracle, lambda v: 0.7, tmp_path, seconds=lambda v: 100 * tuner.relative_cost(v))
  assert len(ran) == 1 and ran[0][0] == candidates[0]
  skipped = [t for t in oracle.log if t["status"] == "skipped"]
  assert len(skipped) >= len(candidates) - 1 and all("of the budget left" in t["why"] for t in skipped)


MULTI_LABEL = task_lib.Task(task_lib.MULTI_LABEL, ("a", "b", "c"))
PAIR = "minilm-wordpiece-bag+use-multilingual-v3"


def test_a_fine_tuned_pair_pays_its_frozen_members_forward_pass_each_epoch():
  values = {"embedding_handle": PAIR, "trainable": True, "epochs": 5}
  # The word-piece bag fine-tuned (3 per epoch), USE frozen but run every epoch (15).
  assert tuner.relative_cost(values) == 1.0 * 3 * 5 + 15.0 * 5
  assert tuner.relative_cost(dict(values, trainable=False)) == 16.0   # frozen: embedded once


def test_a_promotion_the_budget_cannot_hold_gives_way_to_the_next_screened(tmp_path):
  """The pair screens best but its whole run (1,800 s estimated) exceeds the budget: the
  next screened candidate, which fits, is trained whole in its place."""
  candidates = tuner.portfolio(model_lib.ModelConfig(), MULTI_LABEL)
  assert [c["embedding_handle"] for c in candidates].count(PAIR) == 1
  oracle = tuner.BudgetOracle(candidates, budget_seconds=600, objective="eval_macro_f1")
  ran = _search(oracle, lambda v: 0.9 if v["embedding_handle"] == PAIR else 0.8, tmp_path,
                seconds=lambda v: 10 * tuner.relative_cost(v))
  promoted = [values for values, stage, _ in ran if stage == "promoted"]
  assert [(v["embedding_handle"], v["epochs"]) for v in promoted] == [("minilm-wordpiece-bag", 10)]
  skipped = [t for t in oracle.log if t["status"] == "skipped" and t["stage"] == "promoted"]
  assert [(t["values"]["embedding_handle"], t["values"]["epochs"]) for t in skipped] == [(PAIR, 10)]
  assert "estimated 1800 s" in skipped[0]["why"]


def test_a_frozen_candidate_is_estimated_from_its_measured_embedding_time(tmp_path):
  """USE frozen on IMDB: the registry's relative costs scaled the 101 s of a fine-tuned
  pair to 144 s; it took 749 s. A frozen candidate's estimate is the tuner's measurement
  of its modules on the data, and one the budget cannot hold is skipped by it."""
  candidates = tuner.portfolio(model_lib.ModelConfig(), BINARY)
  frozen = [c for c in candidates if not c["trainable"]]
  assert [c["embedding_handle"] for c in frozen] == ["use-multilingual-v3"]
  asked = []
  oracle = tuner.BudgetOracle(candidates, budget_seconds=600, objective="eval_accuracy",
                              frozen_seconds=lambda values: asked.append(values["embedding_handle"]) or 749.0)
  ran = _search(oracle, lambda v: 0.9, tmp_path, seconds=lambda v: 1.0)
  assert set(asked) == {"use-multilingual-v3"}
  assert not any(values["embedding_handle"] == "use-multilingual-v3" for values, _, _ in ran)
  [skipped] = [t for t in oracle.log if t["status"] == "skipped" and not t["values"]["trainable"]]
  assert "estimated 749 s" in skipped["why"]
