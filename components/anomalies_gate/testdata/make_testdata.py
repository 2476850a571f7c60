"""Writes this folder: ExampleValidator-format anomalies (SchemaDiff.pb per split) that TFDV
finds in two tiny splits against the curated IMDB schema; run from the repository root."""
import os
import pandas as pd
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.utils import io_utils

out = "components/anomalies_gate/testdata"
schema = io_utils.parse_pbtxt_file("schemas/imdb-sentiment/schema.pbtxt", schema_pb2.Schema())
good = pd.DataFrame({"text": ["a fine film", "dull"], "label": ["pos", "neg"]})
bad = pd.DataFrame({"text": ["a fine film", "dull"], "label": ["pos", "PERSON"]})
for name, frames in {"clean": {"train": good, "eval": good}, "anomalous": {"train": good, "eval": bad}}.items():
  for split, frame in frames.items():
    anomalies = tfdv.validate_statistics(tfdv.generate_statistics_from_dataframe(frame), schema)
    path = os.path.join(out, name, f"Split-{split}")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "SchemaDiff.pb"), "wb") as f:
      f.write(anomalies.SerializeToString())
    print(name, split, list(anomalies.anomaly_info))
