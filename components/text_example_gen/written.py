"""Reading back what TextExampleGen wrote: one split's gzipped TFRecords of tf.Examples
(`text`, `label` as bytes lists, TFX's <uri>/Split-<name>/ layout). Every step that reads
examples outside a Beam pipeline (the fitted gate, the infra validator, drift, the peers
in benchmarks/) reads them here."""
import itertools
import os
from typing import Iterator, Optional

import tensorflow as tf

from models import features


def split_records(examples_uri: str, split: str, limit: Optional[int] = None) -> Iterator[bytes]:
  """The split's serialized tf.Examples, in file order (the first `limit` only, if given)."""
  files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
  records = tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator()
  return itertools.islice(records, limit)


def split_rows(examples_uri: str, split: str) -> Iterator[tuple[str, tuple[str, ...]]]:
  """(text, labels) of each example in the split."""
  for record in split_records(examples_uri, split):
    feature = tf.train.Example.FromString(record).features.feature
    yield (feature[features.DEFAULT_TEXT_KEY].bytes_list.value[0].decode("utf-8"),
           tuple(v.decode("utf-8") for v in feature[features.DEFAULT_LABEL_KEY].bytes_list.value))
