import numpy as np
import tensorflow as tf

from models import model as model_lib
from models.embeddings import handles


def test_classifier_shape_and_one_training_step():
  config = model_lib.ModelConfig(hidden_units=4, batch_size=4)
  model = model_lib.build_classifier(config, handles.resolve(config.embedding_handle))
  texts = tf.constant(["good film", "bad film", "great", "awful"])
  labels = tf.constant([[1.0], [0.0], [1.0], [0.0]])
  assert model(texts).shape == (4, 1)
  before = model.get_layer("embedding").trainable_weights[0].numpy().copy()
  model.fit(texts, labels, epochs=1, verbose=0)
  after = model.get_layer("embedding").trainable_weights[0].numpy()
  assert not np.array_equal(before, after), "a trainable embedding must be fine-tuned"


def test_frozen_embedding_is_not_updated():
  config = model_lib.ModelConfig(hidden_units=4, trainable=False)
  model = model_lib.build_classifier(config, handles.resolve(config.embedding_handle))
  assert [w.name for w in model.trainable_weights if "embedding" in w.name] == []


def test_config_from_dict_ignores_unknown_keys():
  assert model_lib.ModelConfig.from_dict({"epochs": 7, "unknown": 1}).epochs == 7
