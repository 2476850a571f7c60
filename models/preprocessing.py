"""Transform's preprocessing_fn: the one definition of text cleanup and label ids.

`clean_text` is also called by the exported raw-text serving signature, so training
and serving apply byte-for-byte the same cleanup.
"""
from typing import Any, Dict, Mapping

import tensorflow as tf

from models import features

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


def length_bucket(text: tf.Tensor) -> tf.Tensor:
  """The review's length in words as a readable bucket name, e.g. "100-199 words"."""
  bounds = features.LENGTH_BUCKET_BOUNDARIES
  names = [f"<{bounds[0]} words"] + [f"{lo}-{hi - 1} words" for lo, hi in zip(bounds, bounds[1:])] \
      + [f">={bounds[-1]} words"]
  words = tf.strings.split(text).row_lengths()
  bucket = tf.raw_ops.Bucketize(input=tf.cast(words, tf.float32), boundaries=[float(b) for b in bounds])
  return tf.gather(tf.constant(names), bucket)


def _dense(tensor: Any) -> tf.Tensor:
  """Raw features arrive as [batch] or [batch, 1] (dense) or sparse; make [batch]."""
  if isinstance(tensor, tf.SparseTensor):
    tensor = tf.sparse.to_dense(tensor, default_value="")
  return tf.reshape(tensor, [-1])


def preprocessing_fn(inputs: Mapping[str, Any], custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
  """tf.Transform entry point; custom_config names the raw columns and classes."""
  text_key = custom_config.get("text_key", features.DEFAULT_TEXT_KEY)
  label_key = custom_config.get("label_key", features.DEFAULT_LABEL_KEY)
  class_names = custom_config["class_names"]
  text = clean_text(_dense(inputs[text_key]))
  return {
      features.TEXT_XF: text,
      features.LABEL_XF: label_to_id(_dense(inputs[label_key]), class_names),
      features.LENGTH_BUCKET_XF: length_bucket(text),
  }
