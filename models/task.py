"""The task: what is being classified, decided once and passed to every step as data.

A Task names its kind (binary, multi-class or multi-label), its label vocabulary (the
order fixes the label ids and the model's output columns) and the raw columns it was
read from. The pipeline decides it before any component runs (pipeline/inputs.py) and
hands it, as JSON, to Transform, the Trainer, the Evaluator's config and the exported
signatures, so no step guesses it again.
"""
import dataclasses
import json
from typing import Iterable, Optional

BINARY = "binary"
MULTI_CLASS = "multi-class"
MULTI_LABEL = "multi-label"
KINDS = (BINARY, MULTI_CLASS, MULTI_LABEL)
DEFAULT_LABEL_DELIMITER = "|"


class TaskError(ValueError):
  """The task cannot be decided from what was given (a bad --task, too few labels)."""


@dataclasses.dataclass(frozen=True)
class Task:
  kind: str
  labels: tuple[str, ...]
  text_column: str = "text"
  label_column: str = "label"
  label_delimiter: str = DEFAULT_LABEL_DELIMITER  # multi-label: labels joined in one field

  def __post_init__(self):
    if self.kind not in KINDS:
      raise TaskError(f"task kind {self.kind!r} is not one of {', '.join(KINDS)}")
    if len(set(self.labels)) != len(self.labels):
      raise TaskError(f"label vocabulary has duplicates: {list(self.labels)}")
    minimum = 1 if self.kind == MULTI_LABEL else 2
    if len(self.labels) < minimum:
      raise TaskError(f"a {self.kind} task needs at least {minimum} labels, got {list(self.labels)}")
    if self.kind == BINARY and len(self.labels) != 2:
      raise TaskError(f"a binary task has exactly 2 labels, got {len(self.labels)}: "
                      f"{list(self.labels)}; use --task {MULTI_CLASS}")

  @property
  def outputs(self) -> int:
    """Width of the model's output: one logit for binary, one per label otherwise."""
    return 1 if self.kind == BINARY else len(self.labels)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> "Task":
    values = json.loads(text)
    values["labels"] = tuple(values["labels"])
    return cls(**values)


def decide(kind: Optional[str], seen_labels: Iterable[str], multi_valued: bool,
           schema_labels: Optional[Iterable[str]] = None, **columns) -> Task:
  """The task for data whose train split holds `seen_labels`.

  The vocabulary is the curated schema's label domain when it declares one, else the
  train split's labels, sorted. The kind, unless given: several labels in a row make it
  multi-label; otherwise two labels binary, more multi-class.
  """
  labels = tuple(schema_labels) if schema_labels else tuple(sorted(set(seen_labels)))
  if kind in (None, "", "auto"):
    kind = MULTI_LABEL if multi_valued else (BINARY if len(labels) == 2 else MULTI_CLASS)
  elif kind != MULTI_LABEL and multi_valued:
    raise TaskError(f"--task {kind}: rows hold several labels; use --task {MULTI_LABEL}")
  return Task(kind=kind, labels=labels, **columns)
