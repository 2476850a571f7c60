"""Transform's preprocessing_fn: the one definition of text cleanup and label encoding.

`clean_text` is also called by the exported raw-text serving signature, so training
and serving apply byte-for-byte the same cleanup. The label encoding follows the task
(models/task.py), passed in custom_config: an id for binary and multi-class tasks, a
multi-hot vector over the label vocabulary for multi-label ones.
"""
from typing import Any, Dict, Mapping

import tensorflow as tf

from models import features
from models import task as task_lib

TASK_CONFIG_KEY = "task"  # custom_config key: models.task.Task as JSON

# HTML line breaks as they appear in IMDB reviews: <br />, <br/>, <br>, <BR />.
_HTML_BREAK = r"(?i)<\s*br\s*/?\s*>"
_WHITESPACE = r"\s+"


def clean_text(text: tf.Tensor) -> tf.Tensor:
  """Replaces HTML line breaks with spaces, folds whitespace runs, strips ends."""
  text = tf.strings.regex_replace(text, _HTML_BREAK, " ")
  text = tf.strings.regex_replace(text, _WHITESPACE, " ")
  return tf.strings.strip(text)


def label_to_id(label: tf.Tensor, class_names) -> tf.Tensor:
  """Maps class names to their index in `class_names` (unknown names give -1)."""
  table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
          tf.constant(list(class_names)), tf.range(len(class_names), dtype=tf.int64)),
      default_value=-1)
  return table.lookup(label)


def _ragged_one_hot_max(ids: tf.RaggedTensor, depth: int) -> tf.Tensor:
  rows = tf.cast(ids.value_rowids(), tf.int64)
  indices = tf.stack([rows, ids.flat_values], axis=1)
  dense = tf.scatter_nd(indices, tf.ones_like(ids.flat_values, tf.float32),
                        tf.stack([ids.nrows(out_type=tf.int64), tf.constant(depth, tf.int64)]))
  return tf.ensure_shape(tf.minimum(dense, 1.0), [None, depth])


def length_bucket(text: tf.Tensor) -> tf.Tensor:
  """The text's length in words as a readable bucket name, e.g. "100-199 words"."""
  bounds = features.LENGTH_BUCKET_BOUNDARIES
  names = [f"<{bounds[0]} words"] + [f"{lo}-{hi - 1} words" for lo, hi in zip(bounds, bounds[1:])] \
      + [f">={bounds[-1]} words"]
  words = tf.strings.split(text).row_lengths()
  bucket = tf.raw_ops.Bucketize(input=tf.cast(words, tf.float32), boundaries=[float(b) for b in bounds])
  return tf.gather(tf.constant(names), bucket)


def _ragged(tensor: Any) -> tf.RaggedTensor:
  """Raw features arrive as [batch, k] dense, sparse or ragged; make [batch, (values)]."""
  if isinstance(tensor, tf.SparseTensor):
    return tf.RaggedTensor.from_sparse(tensor)
  if isinstance(tensor, tf.RaggedTensor):
    return tensor
  return tf.RaggedTensor.from_tensor(tf.reshape(tensor, [tf.shape(tensor)[0], -1]))


def _dense(tensor: Any) -> tf.Tensor:
  """A one-value-per-row raw feature as [batch] (missing values become "")."""
  if isinstance(tensor, tf.SparseTensor):
    tensor = tf.sparse.to_dense(tensor, default_value="")
  elif isinstance(tensor, tf.RaggedTensor):
    tensor = tensor.to_tensor(default_value="")
  return tf.reshape(tensor[:, :1] if tensor.shape.rank == 2 else tensor, [-1])


def encode_label(label: Any, task: task_lib.Task) -> tf.Tensor:
  """int64 [batch] ids (binary, multi-class) or float32 [batch, n] multi-hot (multi-label)."""
  if task.kind == task_lib.MULTI_LABEL:
    return _ragged_one_hot_max(_valid_ids(_ragged(label), task.labels), len(task.labels))
  return label_to_id(_dense(label), task.labels)


def _valid_ids(labels: tf.RaggedTensor, class_names) -> tf.RaggedTensor:
  ids = tf.ragged.map_flat_values(label_to_id, labels, class_names)
  return tf.ragged.boolean_mask(ids, ids >= 0)


def preprocessing_fn(inputs: Mapping[str, Any], custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
  """tf.Transform entry point; custom_config carries the task."""
  task = task_lib.Task.from_json(custom_config[TASK_CONFIG_KEY])
  text = clean_text(_dense(inputs[features.DEFAULT_TEXT_KEY]))
  return {
      features.TEXT_XF: text,
      features.LABEL_XF: encode_label(inputs[features.DEFAULT_LABEL_KEY], task),
      features.LENGTH_BUCKET_XF: length_bucket(text),
  }
