"""Where data enters: layout checks that fail fast and name the file or folder."""
import tarfile

import pytest

from components.errors import InputDataError
from pipeline import inputs
from pipeline.config import DataConfig


def test_aclimdb_folder_classes(tiny_imdb, tmp_path):
  (tiny_imdb / "train" / "unsup").mkdir()  # unlabelled reviews are ignored
  (tiny_imdb / "train" / "unsup" / "0_0.txt").write_text("no label")
  resolved = inputs.resolve(DataConfig(path=str(tiny_imdb)), str(tmp_path / "cache"))
  assert resolved.format == inputs.ACLIMDB
  assert resolved.class_names == ("neg", "pos")


def test_parent_of_aclimdb_and_tarball(tiny_imdb, tmp_path):
  assert inputs.resolve(DataConfig(path=str(tiny_imdb.parent)), str(tmp_path / "c")).input_base == str(tiny_imdb)
  archive = tmp_path / "aclImdb_v1.tar.gz"
  with tarfile.open(archive, "w:gz") as tar:
    tar.add(tiny_imdb, arcname="aclImdb")
  resolved = inputs.resolve(DataConfig(path=str(archive)), str(tmp_path / "c"))
  assert resolved.input_base.endswith("/aclImdb") and resolved.class_names == ("neg", "pos")
  again = inputs.resolve(DataConfig(path=str(archive)), str(tmp_path / "c"))
  assert again.input_base == resolved.input_base  # extracted once, reused


def test_missing_path(tmp_path):
  with pytest.raises(InputDataError, match=r"nope: data path does not exist"):
    inputs.resolve(DataConfig(path=str(tmp_path / "nope")), str(tmp_path / "c"))


def test_empty_class_folder_is_named(tiny_imdb, tmp_path):
  for f in (tiny_imdb / "test" / "pos").iterdir():
    f.unlink()
  with pytest.raises(InputDataError, match=r"test/pos: empty class folder"):
    inputs.resolve(DataConfig(path=str(tiny_imdb)), str(tmp_path / "c"))


def test_missing_split_folder(tiny_imdb, tmp_path):
  import shutil
  shutil.rmtree(tiny_imdb / "test")
  with pytest.raises(InputDataError, match=r"aclImdb/test: missing split folder"):
    inputs.resolve(DataConfig(path=str(tiny_imdb)), str(tmp_path / "c"))


def test_csv_without_label_column_names_file_and_columns(tmp_path):
  folder = tmp_path / "csv"
  folder.mkdir()
  (folder / "reviews.csv").write_text("review,stars\nnice,5\n")
  with pytest.raises(InputDataError, match=r"reviews.csv: no column 'sentiment' \(columns: review, stars\)"):
    inputs.resolve(DataConfig(path=str(folder), text_column="review", label_column="sentiment"), str(tmp_path / "c"))


def test_csv_labels_found(tmp_path):
  folder = tmp_path / "csv"
  folder.mkdir()
  (folder / "a.csv").write_text("review,sentiment\ngood,pos\nbad,neg\n")
  resolved = inputs.resolve(DataConfig(path=str(folder), text_column="review", label_column="sentiment"), str(tmp_path / "c"))
  assert resolved.format == inputs.CSV and resolved.class_names == ("neg", "pos")


def test_offline_url_fails_clearly(tmp_path):
  with pytest.raises(InputDataError, match=r"download failed .*pass its local path"):
    inputs.resolve(DataConfig(path="http://127.0.0.1:9/aclImdb_v1.tar.gz"), str(tmp_path / "c"))


def test_inferred_schema_matches_the_curated_contract(tiny_imdb, tmp_path):
  """SchemaGen on data agrees with the committed schema on names, types and labels."""
  from tensorflow_metadata.proto.v0 import schema_pb2
  from tfx.utils import io_utils
  from pipeline.config import PipelineConfig
  from pipeline.infer_schema import infer
  inferred = io_utils.parse_pbtxt_file(infer(str(tiny_imdb), str(tmp_path / "s.pbtxt")), schema_pb2.Schema())
  curated = io_utils.parse_pbtxt_file(PipelineConfig().schema_path, schema_pb2.Schema())
  shape = lambda s: {(f.name, f.type) for f in s.feature}
  assert shape(inferred) == shape(curated)
  domains = lambda s: {d.name: sorted(d.value) for d in s.string_domain}
  assert domains(inferred)["label"] == domains(curated)["label"] == ["neg", "pos"]
