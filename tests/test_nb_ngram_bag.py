"""nb-word-ngram-bag (NBSVM as a hub module) and the Naive-Bayes ratios the Trainer sets:
the word n-grams it hashes, the ratios counted on a train split, and that a trained model
keeps them when saved and reloaded."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras as keras

from models import model as model_lib
from models import nb_ratio
from models import task as task_lib
from models.embeddings import handles, nb_ngram_bag, wordpiece_bag

BUCKETS = 1 << 16
BINARY = task_lib.Task(kind=task_lib.BINARY, labels=("neg", "pos"))
TEXTS = ["A great, great film!", "Not good.<br /><br />Boring and dull", "great acting", "boring plot"]
LABELS = [1.0, 0.0, 1.0, 0.0]


def ids_of(texts, buckets=BUCKETS):
  return [sorted(row) for row in nb_ngram_bag.word_ngram_ids(tf.constant(texts), buckets).to_list()]


def test_each_distinct_word_1_2_3_gram_is_counted_once():
  # a, great, ",", film, "!" | a great, great ",", ", great", great film, film ! | 5 trigrams;
  # "great" twice but once in the set.
  assert len(ids_of(["A great, great film!"])[0]) == 5 + 5 + 4
  assert ids_of(["A GREAT, great film!"]) == ids_of(["a great ,   great film !"])


def test_markup_is_dropped_and_word_order_matters():
  assert ids_of(["not good<br />"]) == ids_of(["not good"])
  assert ids_of(["not good"]) != ids_of(["good not"])
  assert ids_of(["good!"]) != ids_of(["good"])  # "!" is a word of its own


def test_log_count_ratio_favours_the_class_a_gram_occurs_in():
  positive, negative = np.array([3.0, 0.0, 1.0]), np.array([0.0, 3.0, 1.0])
  ratio = nb_ratio.log_count_ratio(positive, negative)
  assert ratio[0] > 0 > ratio[1] and ratio[2] == pytest.approx(0.0)


def test_ratios_are_counted_per_text_on_the_train_split():
  module = nb_ngram_bag.NbNgramBag(BUCKETS, ngram_dim=4)
  dataset = tf.data.Dataset.from_tensor_slices((TEXTS, [[v] for v in LABELS])).batch(3)
  assert nb_ratio.set_from_train_split(module, dataset, BINARY)
  ratio = module.log_count_ratio.numpy()
  [great] = ids_of(["great"])
  [boring] = ids_of(["boring"])
  assert ratio[great[0]] > 0 > ratio[boring[0]]
  # "great" is in two positive texts (three times): counted twice, as Laplace-smoothed presence.
  positive, negative = nb_ratio.count_by_class(module.ngram_ids, dataset, BUCKETS)
  assert (positive[great[0]], negative[great[0]]) == (2, 0)


def test_ratios_are_left_alone_where_they_do_not_apply():
  module = nb_ngram_bag.NbNgramBag(BUCKETS, ngram_dim=4)
  dataset = tf.data.Dataset.from_tensor_slices((TEXTS, [[v] for v in LABELS])).batch(2)
  multi_class = task_lib.Task(kind=task_lib.MULTI_CLASS, labels=("a", "b", "c"))
  assert not nb_ratio.set_from_train_split(module, dataset, multi_class)
  assert np.all(module.log_count_ratio.numpy() == 1.0)
  no_ratios = hub.load(handles.resolve(wordpiece_bag.NAME))
  assert not nb_ratio.set_from_train_split(no_ratios, dataset, BINARY)


def test_trained_classifier_keeps_the_ratios_and_takes_raw_text(tmp_path):
  config = model_lib.ModelConfig(embedding_handle=nb_ngram_bag.NAME, batch_size=2, learning_rate=0.01).for_task(BINARY)
  model = model_lib.build_classifier(config, handles.resolve(nb_ngram_bag.NAME), BINARY)
  dataset = tf.data.Dataset.from_tensor_slices((TEXTS, [[v] for v in LABELS])).batch(2)
  module = model.get_layer(model_lib.EMBEDDING_LAYER).resolved_object
  assert nb_ratio.set_from_train_split(module, dataset, BINARY)
  counted = module.log_count_ratio.numpy().copy()
  model.fit(dataset.repeat(20), epochs=1, verbose=0)
  np.testing.assert_array_equal(module.log_count_ratio.numpy(), counted)  # not trained
  model.save(str(tmp_path / "model"), save_format="tf", include_optimizer=False)
  reloaded = keras.models.load_model(str(tmp_path / "model"), custom_objects={"KerasLayer": hub.KerasLayer})
  logits = reloaded(tf.constant(["great acting", "boring and dull"])).numpy().ravel()
  assert logits[0] > logits[1]
  np.testing.assert_allclose(reloaded(tf.constant(TEXTS)).numpy(), model(tf.constant(TEXTS)).numpy(), rtol=1e-5)


def test_vectors_are_the_ratio_scaled_rows_over_sqrt_n():
  module = nb_ngram_bag.NbNgramBag(BUCKETS, ngram_dim=4)
  texts = tf.constant(["not good at all", "great"])
  [ids, _] = ids_of(texts.numpy().tolist())
  ratio = np.linspace(-2.0, 2.0, BUCKETS).astype(np.float32)
  module.log_count_ratio.assign(ratio)
  expected = (module.ngrams.numpy()[ids] * ratio[ids][:, None]).sum(axis=0) / np.sqrt(len(ids))
  np.testing.assert_allclose(module(texts).numpy()[0], expected, rtol=1e-5, atol=1e-7)


def test_edge_inputs_are_finite():
  module = hub.load(handles.resolve(nb_ngram_bag.NAME))
  texts = ["", "   ", "x " * 50_000, "Ünïcödé ☃ 映画 😀", "<br /><br />", "!"]
  out = module(tf.constant(texts)).numpy()
  assert out.shape == (len(texts), nb_ngram_bag.NGRAM_DIM) and np.isfinite(out).all()
  assert np.allclose(out[0], 0.0)
