"""Labels too rare to be judged, found before training from the counts the up-front row
check makes (pipeline/inputs.py), so the user hears of them before any time is spent.

The gate judges a label only where the test split holds a positive and a negative example
of it (components/fitted_gate_evaluator/floors.py): a label with no test example is left
out of the gate's macro averages and listed as "not judged" in the run's table. That is
the policy, not a refusal: the model still learns and serves every label. Below
MIN_EXAMPLES in the train split a label is barely learnt, in the test split its metrics
are noise; it is reported, still judged.
Splits the data lacks are carved from train by hash (TextExampleGen), so their counts are
estimated from the share they take.
"""
import dataclasses

from models import task as task_lib
from pipeline.config import DataConfig
from pipeline.inputs import EVAL, TEST, TRAIN

MIN_EXAMPLES = 5     # per split


@dataclasses.dataclass(frozen=True)
class RareLabel:
  label: str
  counts: dict        # split -> examples (estimated in carved splits, marked "~")
  why: str

  def describe(self) -> str:
    counts = ", ".join(f"{split} {n}" for split, n in self.counts.items())
    return f"{self.label!r} ({counts}): {self.why}"


def carved_shares(splits: tuple, data: DataConfig) -> dict:
  """{carved split: its share of the train split's rows} for the splits the data lacks."""
  if tuple(splits) == (TRAIN,):
    train, eval_, test = data.pool_buckets
    total = train + eval_ + test
    return {EVAL: eval_ / total, TEST: test / total}
  missing = [s for s in (EVAL, TEST) if s not in splits]
  return {s: 1 / data.holdout_buckets for s in missing}


def rare_labels(task: task_lib.Task, counts: dict, data: DataConfig) -> list:
  """Every label with no test example or fewer than MIN_EXAMPLES in some split."""
  shares = carved_shares(tuple(counts), data)
  found = []
  for label in task.labels:
    expected = {split: float(counts[split][label]) for split in counts}
    expected.update({split: counts[TRAIN][label] * share for split, share in shares.items()})
    shown = {split: (f"~{expected[split]:.0f}" if split in shares else counts[split][label])
             for split in (TRAIN, EVAL, TEST) if split in expected}
    if expected.get(TEST, 0) < 0.5:
      why = ("no test example" if TEST in counts else "likely no example in the test split carved from train")
      found.append(RareLabel(label, shown, f"{why}: not judged (left out of the gate's macro averages)"))
    elif min(expected[TRAIN], expected[TEST]) < MIN_EXAMPLES:
      thin = [split for split in (TRAIN, TEST) if expected[split] < MIN_EXAMPLES]
      found.append(RareLabel(label, shown, f"fewer than {MIN_EXAMPLES} examples in {', '.join(thin)}: "
                                           "its metrics there are noise"))
  return found
