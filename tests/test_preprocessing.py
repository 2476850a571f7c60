import tensorflow as tf

from models import features
from models import preprocessing
from models import task as task_lib


def test_clean_text_removes_html_breaks_and_folds_whitespace():
  raw = tf.constant(["Great film.<br /><br />Loved it!", "  a\t\tb\n c  ", "x<BR/>y<br>z", ""])
  cleaned = [t.decode() for t in preprocessing.clean_text(raw).numpy()]
  assert cleaned == ["Great film. Loved it!", "a b c", "x y z", ""]


def test_clean_text_keeps_non_ascii():
  assert preprocessing.clean_text(tf.constant(["Amélie — très bien"])).numpy()[0].decode() == "Amélie — très bien"


def test_label_to_id_follows_class_order_and_flags_unknown():
  ids = preprocessing.label_to_id(tf.constant(["neg", "pos", "meh"]), ["neg", "pos"])
  assert ids.numpy().tolist() == [0, 1, -1]


BINARY = task_lib.Task(task_lib.BINARY, ("neg", "pos"))


def test_preprocessing_fn_encodes_binary_labels_as_ids():
  inputs = {"text": tf.constant([["Good<br />movie"]]), "label": tf.constant([["pos"]])}
  out = preprocessing.preprocessing_fn(inputs, {preprocessing.TASK_CONFIG_KEY: BINARY.to_json()})
  assert out[features.TEXT_XF].numpy().tolist() == [b"Good movie"]
  assert out[features.LABEL_XF].numpy().tolist() == [1]


def test_preprocessing_fn_accepts_sparse_text():
  sparse = tf.sparse.from_dense(tf.constant([["a  b"]]))
  out = preprocessing.preprocessing_fn({"text": sparse, "label": tf.constant([["neg"]])},
                                       {preprocessing.TASK_CONFIG_KEY: BINARY.to_json()})
  assert out[features.TEXT_XF].numpy().tolist() == [b"a b"]


def test_multi_class_labels_follow_the_vocabulary_order():
  task = task_lib.Task(task_lib.MULTI_CLASS, ("LOC", "HUM", "NUM"))
  ids = preprocessing.encode_label(tf.constant([["NUM"], ["LOC"], ["HUM"]]), task)
  assert ids.numpy().tolist() == [2, 0, 1]


def test_multi_label_labels_become_multi_hot_rows():
  task = task_lib.Task(task_lib.MULTI_LABEL, ("joy", "anger", "neutral"))
  labels = tf.sparse.from_dense(tf.constant([[b"joy", b"neutral"], [b"anger", b""], [b"neutral", b""]]))
  labels = tf.SparseTensor(labels.indices, labels.values, labels.dense_shape)
  multi_hot = preprocessing.encode_label(labels, task)
  assert multi_hot.shape.as_list() == [None, 3] or multi_hot.shape.as_list() == [3, 3]
  assert multi_hot.numpy().tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def test_length_bucket_names_word_count_ranges():
  texts = tf.constant(["one two", " ".join(["w"] * 150), " ".join(["w"] * 399), " ".join(["w"] * 400), ""])
  assert [b.decode() for b in preprocessing.length_bucket(texts).numpy()] == [
      "<100 words", "100-199 words", "200-399 words", ">=400 words", "<100 words"]
