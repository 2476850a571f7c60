"""Where data enters: layouts found, splits honoured, the task decided once, and bad input
named by file, line and column before anything runs (and so nothing is pushed)."""
import tarfile

import pytest

from components.errors import InputDataError
from models import task as task_lib
from pipeline import cli, inputs, label_coverage, run
from pipeline.config import DataConfig, PipelineConfig, REPO_ROOT
from tests.conftest import fast_config, pushed_versions


def _decide(path, tmp_path, **data):
  config = DataConfig(path=str(path), **data)
  dataset = inputs.find(config, str(tmp_path / "cache"))
  return dataset, inputs.decide_task(dataset, config, None)


def _csv(folder, name, rows, header="text,label"):
  folder.mkdir(parents=True, exist_ok=True)
  (folder / name).write_text(header + "\n" + "".join(r + "\n" for r in rows))
  return folder


def _jsonl(folder, text):
  """folder/train.jsonl holding text; returns its path."""
  folder.mkdir(parents=True, exist_ok=True)
  (folder / "train.jsonl").write_text(text)
  return folder / "train.jsonl"


def test_aclimdb_split_folders_binary(tiny_imdb, tmp_path):
  (tiny_imdb / "train" / "unsup").mkdir()  # unlabelled reviews are ignored
  (tiny_imdb / "train" / "unsup" / "0_0.txt").write_text("no label")
  dataset, task = _decide(tiny_imdb, tmp_path)
  assert dataset.patterns == (("train", "train/*/*.txt"), ("test", "test/*/*.txt"))
  assert dataset.name == "aclimdb"  # a pipeline name Kubeflow accepts: [a-z0-9-]
  assert (task.kind, task.labels) == (task_lib.BINARY, ("neg", "pos"))


def test_class_folders_without_splits_are_one_pool(tmp_path):
  for label in ("cats", "dogs", "fish"):
    (tmp_path / "pets" / label).mkdir(parents=True)
    (tmp_path / "pets" / label / "a.txt").write_text(f"about {label}")
  dataset, task = _decide(tmp_path / "pets", tmp_path)
  assert dataset.patterns == (("train", "*/*.txt"),) and dataset.name == "pets"
  assert (task.kind, task.labels) == (task_lib.MULTI_CLASS, ("cats", "dogs", "fish"))


def test_parent_folder_and_tarball(tiny_imdb, tmp_path):
  assert inputs.find(DataConfig(path=str(tiny_imdb.parent)), str(tmp_path / "c")).input_base == str(tiny_imdb)
  archive = tmp_path / "aclImdb_v1.tar.gz"
  with tarfile.open(archive, "w:gz") as tar:
    tar.add(tiny_imdb, arcname="aclImdb")
  found = inputs.find(DataConfig(path=str(archive)), str(tmp_path / "c"))
  assert found.input_base.endswith("/aclImdb") and found.name == "aclimdb-v1"
  assert inputs.find(DataConfig(path=str(archive)), str(tmp_path / "c")).input_base == found.input_base  # once


def test_named_split_files_are_honoured(tmp_path):
  folder = _csv(tmp_path / "Clickbait Headlines", "train.csv", ["a,yes", "b,no"])
  _csv(folder, "dev.csv", ["c,no"])
  _csv(folder, "test.csv", ["d,yes"])
  dataset, task = _decide(folder, tmp_path)
  assert dataset.patterns == (("train", "train.csv"), ("eval", "dev.csv"), ("test", "test.csv"))
  assert dataset.name == "clickbait-headlines" and task.labels == ("no", "yes")


def test_one_csv_file_and_jsonl_multi_label(tmp_path):
  path = _csv(tmp_path / "d", "plots.csv", ['"A, b",drama|comedy', "c,drama", "d,horror"]) / "plots.csv"
  dataset, task = _decide(path, tmp_path)
  assert dataset.patterns == (("train", "plots.csv"),) and dataset.name == "plots"
  assert (task.kind, task.labels) == (task_lib.MULTI_LABEL, ("comedy", "drama", "horror"))
  jsonl = _jsonl(tmp_path / "j", '{"text": "x", "label": ["a", "b"]}\n\n{"text": "y", "label": "c"}\n')
  assert _decide(jsonl.parent, tmp_path)[1].kind == task_lib.MULTI_LABEL


def test_task_override_and_schema_vocabulary(tmp_path):
  folder = _csv(tmp_path / "x", "train.csv", ["a,pos", "b,neg"])
  config = DataConfig(path=str(folder), task=task_lib.MULTI_CLASS)
  dataset = inputs.find(config, str(tmp_path / "c"))
  assert inputs.decide_task(dataset, config, None).kind == task_lib.MULTI_CLASS
  curated = str(REPO_ROOT / "schemas" / "imdb-sentiment" / "schema.pbtxt")
  assert inputs.decide_task(dataset, DataConfig(path=str(folder)), curated).labels == ("neg", "pos")
  goemotions = inputs.task_from_schema(str(REPO_ROOT / "schemas" / "goemotions" / "schema.pbtxt"))
  assert goemotions.kind == task_lib.MULTI_LABEL and len(goemotions.labels) == 28


def test_missing_path(tmp_path):
  with pytest.raises(InputDataError, match=r"nope: data path does not exist"):
    inputs.find(DataConfig(path=str(tmp_path / "nope")), str(tmp_path / "c"))


def test_missing_path_inside_the_userland_says_how_to_bind_it(tmp_path, monkeypatch):
  monkeypatch.setenv(inputs.USERLAND_ENV, "1")
  with pytest.raises(InputDataError, match=r"nope: data path does not exist here, inside the Debian 13 userland"
                                           r".*TFX_TEXT_BINDS=<that folder>"):
    inputs.find(DataConfig(path=str(tmp_path / "nope")), str(tmp_path / "c"))
  monkeypatch.delenv(inputs.USERLAND_ENV)
  with pytest.raises(InputDataError) as outside:
    inputs.find(DataConfig(path=str(tmp_path / "nope")), str(tmp_path / "c"))
  assert "TFX_TEXT_BINDS" not in str(outside.value)


def test_offline_url_fails_clearly(tmp_path):
  with pytest.raises(InputDataError, match=r"download failed .*pass its local path"):
    inputs.find(DataConfig(path="http://127.0.0.1:9/aclImdb_v1.tar.gz"), str(tmp_path / "c"))


# --- bad input: each stops the run before any component, naming the place; nothing pushed
def _refused(tmp_path, data_path, pattern, name="bad_data", **data):
  config = fast_config(data_path, tmp_path / "out", name=name)
  config = config.replace(data=DataConfig(path=str(data_path), **data))
  with pytest.raises(InputDataError) as info:
    run.run(config)
  message = cli.user_error_message(info.value)
  assert pattern in message, message
  assert pushed_versions(config) == [] and not (tmp_path / "out" / "pipelines").exists()
  return message


def test_label_outside_the_curated_vocabulary(tmp_path):
  folder = _csv(tmp_path / "d", "train.csv", ["a,neg", "b,pos", "c,pos"])
  _csv(folder, "test.csv", ["d,neg", "e,neutral"])
  _refused(tmp_path, folder, f"{folder}/test.csv, line 3, column 'label': label 'neutral' is not in the task's "
                             f"labels (neg, pos)", name="imdb-sentiment")


def test_row_without_a_label(tmp_path):
  folder = _csv(tmp_path / "d", "train.csv", ["a,x", "b,", "c,y"])
  _refused(tmp_path, folder, f"{folder}/train.csv, line 3, column 'label': no label")


def test_empty_label_list_in_multi_label_is_rejected(tmp_path):
  jsonl = _jsonl(tmp_path / "d", '{"text": "x", "label": ["a", "b"]}\n{"text": "y", "label": []}\n')
  _refused(tmp_path, jsonl.parent, f"{jsonl}, line 2, column 'label': no label")


def test_class_with_no_training_example(tmp_path):
  folder = _csv(tmp_path / "d", "train.csv", ["a,pos", "b,pos"])
  _csv(folder, "test.csv", ["c,neg"])
  _refused(tmp_path, folder, "label 'neg' has no training example", name="imdb-sentiment")


def test_csv_row_with_the_wrong_number_of_fields(tmp_path):
  folder = _csv(tmp_path / "d", "train.csv", ["a,x", "b,y,extra", "c,y"])
  _refused(tmp_path, folder, f"{folder}/train.csv, line 3: 3 fields, the header has 2")


def test_jsonl_line_that_is_not_json(tmp_path):
  jsonl = _jsonl(tmp_path / "d", '{"text": "x", "label": "a"}\n{"text": "y", "label": "b"\n')
  _refused(tmp_path, jsonl.parent, f"{jsonl}, line 2: not valid JSON")


def test_text_column_missing_or_empty(tmp_path):
  folder = _csv(tmp_path / "d", "train.csv", ["a,x", "b,y"], header="title,label")
  _refused(tmp_path, folder, f"{folder}/train.csv: no column 'text' (columns: title, label)")
  empty = _csv(tmp_path / "e", "train.csv", ["a,x", "  ,y"])
  _refused(tmp_path, empty, f"{empty}/train.csv, line 3, column 'text': empty text")


def test_label_column_missing(tmp_path):
  """Without its label column a CSV is refused by name, file and the columns it has
  (a bare ValueError from header.index would reach the user otherwise)."""
  folder = _csv(tmp_path / "d", "train.csv", ["a film,x", "another,y"], header="text,sentiment")
  _refused(tmp_path, folder, f"{folder}/train.csv: no column 'label' (columns: text, sentiment)")
  jsonl = _jsonl(tmp_path / "j", '{"text": "x", "sentiment": "a"}\n')
  _refused(tmp_path, jsonl.parent, f"{jsonl}, line 1: no field 'label' (fields: text, sentiment)")


def test_empty_class_folder_is_named(tiny_imdb, tmp_path):
  for f in (tiny_imdb / "test" / "pos").iterdir():
    f.unlink()
  _refused(tmp_path, tiny_imdb, f"{tiny_imdb}/test/pos: empty class folder")


def test_not_utf8_names_the_line(tmp_path):
  folder = tmp_path / "d"
  folder.mkdir()
  (folder / "train.csv").write_bytes(b"text,label\nok,a\ncaf\xe9,b\n")
  _refused(tmp_path, folder, f"{folder}/train.csv, line 3: not valid UTF-8")


@pytest.mark.parametrize("name, data, task", [
    ("imdb-sentiment", "imdb-sentiment", {}),
    ("goemotions", "goemotions", {"label_column": "labels"}),
])
def test_inferred_schema_matches_the_curated_contract(name, data, task, tmp_path):
  """SchemaGen on a bundled sample agrees with its curated schema on names, types and labels."""
  from tensorflow_metadata.proto.v0 import schema_pb2
  from tfx.utils import io_utils
  from pipeline.infer_schema import infer
  options = DataConfig(path=str(REPO_ROOT / "data" / data), **task)
  dataset = inputs.find(options, PipelineConfig().cache_dir)
  inferred = io_utils.parse_pbtxt_file(infer(dataset, inputs.decide_task(dataset, options, None),
                                             str(tmp_path / "s.pbtxt")), schema_pb2.Schema())
  curated = io_utils.parse_pbtxt_file(str(REPO_ROOT / "schemas" / name / "schema.pbtxt"), schema_pb2.Schema())
  shape = lambda s: {(f.name, f.type) for f in s.feature}  # noqa: E731
  assert shape(inferred) == shape(curated)
  domains = lambda s: {d.name: sorted(d.value) for d in s.string_domain}  # noqa: E731
  assert domains(inferred)["label"] == sorted(domains(curated)["label"])


def test_rare_labels_are_reported_before_training(tmp_path, capsys):
  folder = tmp_path / "tickets"
  folder.mkdir()
  rows = [("printer jammed again", "hardware")] * 30 + [("cannot log in", "access")] * 30 + \
         [("the server room is on fire", "fire")] * 3
  test_rows = [("paper stuck in the printer", "hardware")] * 8 + [("password expired", "access")] * 8
  (folder / "train.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in rows))
  (folder / "test.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in test_rows))
  config = PipelineConfig(data=DataConfig(path=str(folder)), output_dir=str(tmp_path / "out"))
  _, _, task = run.prepare(config)
  assert task.labels == ("access", "fire", "hardware")
  printed = capsys.readouterr().out
  assert "1 of 3 labels are rare" in printed
  assert "'fire' (train 3, eval ~0, test 0): no test example: not judged" in printed
  # Carved splits are estimated: a label with 30 training rows gets about 3 in a carved test split.
  (folder / "test.csv").unlink()
  dataset = inputs.find(config.data, config.cache_dir)
  task, counts = inputs.decide_task_and_count(dataset, config.data, None)
  rare = {r.label: r for r in label_coverage.rare_labels(task, counts, config.data)}
  assert set(rare) == {"access", "fire", "hardware"}
  assert "likely no example in the test split" in rare["fire"].why and "fewer than 5" in rare["access"].why
