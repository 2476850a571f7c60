"""Training twice with the same data and settings gives the same model and the same
decision thresholds, for every task kind (models/trainer.py: fit)."""
import random

import numpy as np
import pytest
import tensorflow as tf

from models import model as model_lib
from models import task as task_lib
from models import thresholds as thresholds_lib
from models import trainer

TEXTS = ["a wonderful moving film", "dull and far too long", "who wrote this script ?", "where was it shot ?",
         "great acting, weak plot", "i laughed and cried", "the worst sequel yet", "how long is it ?"] * 8
CASES = {
    task_lib.BINARY: (task_lib.Task(task_lib.BINARY, ("neg", "pos")), lambda i: [float(i % 2)]),
    task_lib.MULTI_CLASS: (task_lib.Task(task_lib.MULTI_CLASS, ("a", "b", "c")), lambda i: i % 3),
    task_lib.MULTI_LABEL: (task_lib.Task(task_lib.MULTI_LABEL, ("x", "y", "z", "w")),
                           lambda i: [float(i % 2), float(i % 3 == 0), float(i % 5 == 0), float(i % 7 == 0)]),
}


def _splits(label_of):
  """The same batches on every call, shuffled here without TF's global seed (the Trainer's
  own shuffle, trainer.datasets, is tested in test_tuning_e2e.py)."""
  order = random.Random(0).sample(range(len(TEXTS)), len(TEXTS))
  labels = [label_of(i) for i in range(len(TEXTS))]
  train = tf.data.Dataset.from_tensor_slices(([TEXTS[i] for i in order], [labels[i] for i in order])).batch(8)
  evaluation = tf.data.Dataset.from_tensor_slices((TEXTS[:24], labels[:24])).batch(8)
  return train, evaluation


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize("trainable", [True, False], ids=["fine-tuned", "frozen"])
def test_the_same_settings_train_the_same_model(kind, trainable):
  task, label_of = CASES[kind]
  config = model_lib.ModelConfig(embedding_handle="minilm-bigram-bag", trainable=trainable, epochs=3,
                                 batch_size=8, learning_rate=3e-3, hidden_units=32).for_task(task)
  outputs = []
  for earlier_seed in (1, 2):
    tf.random.set_seed(earlier_seed)   # what ran before in the process must not matter
    train, evaluation = _splits(label_of)
    model = trainer.fit(config, task, train, evaluation)
    labels, probabilities = trainer.eval_predictions(model, evaluation, task)
    thresholds = thresholds_lib.choose(labels, probabilities) if kind == task_lib.MULTI_LABEL else None
    outputs.append((model(tf.constant(TEXTS)).numpy(), thresholds))
  np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
  if kind == task_lib.MULTI_LABEL:
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
