import numpy as np
import tensorflow as tf

from models import model as model_lib
from models import task as task_lib
from models import thresholds
from models.embeddings import handles

BINARY = task_lib.Task(task_lib.BINARY, ("neg", "pos"))


def test_classifier_shape_and_one_training_step():
  config = model_lib.ModelConfig(hidden_units=4, batch_size=4).for_task(BINARY)
  model = model_lib.build_classifier(config, handles.resolve(config.embedding_handle), BINARY)
  texts = tf.constant(["good film", "bad film", "great", "awful"])
  labels = tf.constant([[1.0], [0.0], [1.0], [0.0]])
  assert model(texts).shape == (4, 1)
  before = model.get_layer("embedding").trainable_weights[0].numpy().copy()
  model.fit(texts, labels, epochs=1, verbose=0)
  after = model.get_layer("embedding").trainable_weights[0].numpy()
  assert not np.array_equal(before, after), "a trainable embedding must be fine-tuned"


def test_frozen_embedding_is_not_updated():
  config = model_lib.ModelConfig(hidden_units=4, trainable=False).for_task(BINARY)
  model = model_lib.build_classifier(config, handles.resolve(config.embedding_handle), BINARY)
  layer = model.get_layer("embedding")
  assert layer.weights and layer.trainable_weights == []  # the module has weights; none train
  before = [w.numpy().copy() for w in layer.weights]
  model.fit(tf.constant(["good film", "bad film"]), tf.constant([[1.0], [0.0]]), epochs=1, verbose=0)
  assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, layer.weights))


def test_heads_fit_each_task_kind():
  config = model_lib.ModelConfig(hidden_units=4, embedding_handle="minilm-wordpiece-bag", dropout=0.0, trainable=True,
                                 learning_rate=1e-3)
  path = handles.resolve(config.embedding_handle)
  texts = tf.constant(["where is paris", "who wrote hamlet", "how many legs", "where is rome"])
  cases = [(task_lib.Task(task_lib.MULTI_CLASS, ("HUM", "LOC", "NUM")), tf.constant([1, 0, 2, 1])),
           (task_lib.Task(task_lib.MULTI_LABEL, ("a", "b", "c")),
            tf.constant([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))]
  for task, labels in cases:
    model = model_lib.build_classifier(config, path, task)
    assert model(texts).shape == (4, 3)
    history = model.fit(texts, labels, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0], task.kind
    p = model_lib.probabilities(model(texts), task).numpy()
    if task.kind == task_lib.MULTI_CLASS:
      np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert ((p >= 0) & (p <= 1)).all()


def test_thresholds_are_chosen_per_label_on_held_out_data():
  labels = np.array([[1, 0], [1, 0], [0, 0], [0, 1], [0, 0]])
  # Label 0's positives score 0.3 and 0.35 (below 0.5); label 1 is already right at 0.5.
  probabilities = np.array([[0.3, 0.1], [0.35, 0.2], [0.1, 0.1], [0.05, 0.9], [0.2, 0.3]])
  chosen = thresholds.choose(labels, probabilities)
  assert 0.2 < chosen[0] <= 0.3 and chosen[1] == thresholds.DEFAULT
  assert thresholds.choose(np.zeros((3, 1)), np.full((3, 1), 0.9))[0] == thresholds.DEFAULT  # never seen


def test_config_from_dict_ignores_unknown_keys():
  assert model_lib.ModelConfig.from_dict({"epochs": 7, "unknown": 1}).epochs == 7


def test_frozen_embeddings_are_computed_once_per_example_not_per_epoch():
  texts = tf.constant(["a", "bb", "ccc", "dddd", "eeeee"])
  labels = tf.constant([[0.0], [1.0], [0.0], [1.0], [0.0]])
  calls = tf.Variable(0, dtype=tf.int64)

  def embed(batch):
    calls.assign_add(tf.size(batch, out_type=tf.int64))
    return tf.cast(tf.strings.length(batch), tf.float32)[:, tf.newaxis] * tf.ones([1, 3])

  dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(2)
  cached = model_lib.cache_embeddings(dataset, embed, shuffle_buffer=10, seed=0, batch_size=2)
  epochs = [sorted(float(v[0]) for vectors, _ in cached for v in vectors.numpy()) for _ in range(3)]
  assert epochs[0] == epochs[1] == epochs[2] == [1.0, 2.0, 3.0, 4.0, 5.0]
  assert int(calls.numpy()) == 5  # once per example over three epochs


def test_frozen_training_path_trains_only_the_head():
  config = model_lib.ModelConfig(hidden_units=4, trainable=False).for_task(BINARY)
  path = handles.resolve(config.embedding_handle)
  embed = model_lib.embedding_layers(config, path)[0]
  dim = embed(tf.constant([""])).shape[-1]
  head = model_lib.compile_for_training(model_lib.build_head(config, dim, BINARY), config, BINARY)
  dataset = tf.data.Dataset.from_tensor_slices(
      (tf.constant(["good film", "bad film", "great", "awful"]), tf.constant([[1.0], [0.0], [1.0], [0.0]]))).batch(2)
  head.fit(model_lib.cache_embeddings(dataset, embed, 4, 0, 2), epochs=2, verbose=0)
  model = model_lib.build_classifier(config, path, BINARY, head=head)
  np.testing.assert_allclose(model(tf.constant(["good film"])).numpy(),
                             head(embed(tf.constant(["good film"]))).numpy(), rtol=1e-6)
