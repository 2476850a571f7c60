"""TextExampleGen's executor: Do() on committed data, as TFX's own executor tests do."""
import collections
import os

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import common_urns
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import json_utils, proto_utils

from components.errors import InputDataError
from components.text_example_gen import executor, records
from models import task as task_lib
from pipeline import inputs, pipeline
from pipeline.config import IN_PROCESS_BEAM_ARGS, MULTI_PROCESS_BEAM_ARGS, DataConfig, PipelineConfig, REPO_ROOT

TREC = task_lib.Task(task_lib.MULTI_CLASS, ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"), label_column="coarse")


def _do(tmp_path, input_base, splits, task, holdout=None, row_ids=False):
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / "examples")
  input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name=n, pattern=p) for n, p in splits])
  properties = {
      standard_component_specs.INPUT_BASE_KEY: str(input_base),
      standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
      standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Output()),
      standard_component_specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(
          executor.make_custom_config(task, holdout, row_ids=row_ids)),
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
      standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
  }
  executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, properties)
  return examples


def _read(examples, split):
  pattern = os.path.join(artifact_utils.get_split_uri([examples], split), "*")
  return [tf.train.Example.FromString(r.numpy())
          for r in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP")]


def test_csv_splits_and_a_holdout_carved_from_train(tmp_path):
  holdout = example_gen_pb2.SplitConfig(splits=[example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=9),
                                                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)],
                                        partition_feature_name="text")
  examples = _do(tmp_path, REPO_ROOT / "data" / "trec", [("train", "train.csv"), ("test", "test.csv")], TREC, holdout)
  assert artifact_utils.decode_split_names(examples.split_names) == ["test", "train", "eval"]
  train, evaluation, test = (_read(examples, s) for s in ("train", "eval", "test"))
  assert len(test) == 250 and len(train) + len(evaluation) == 606
  assert 30 < len(evaluation) < 100  # about 1 in 10
  texts = lambda rows: {r.features.feature["text"].bytes_list.value[0] for r in rows}  # noqa: E731
  assert not texts(train) & texts(evaluation)  # split by text: no question in both
  first = train[0].features.feature
  assert set(first) == {"text", "label"} and first["label"].bytes_list.value[0].decode() in TREC.labels


def test_multi_label_rows_hold_every_label(tmp_path):
  task = task_lib.Task(task_lib.MULTI_LABEL, ("a", "b", "c"))
  (tmp_path / "d").mkdir()
  (tmp_path / "d" / "train.jsonl").write_text('{"text": "x", "label": "a|c"}\n{"text": "y", "label": ["b"]}\n')
  rows = _read(_do(tmp_path, tmp_path / "d", [("train", "train.jsonl")], task), "train")
  assert sorted(tuple(r.features.feature["label"].bytes_list.value) for r in rows) == [(b"a", b"c"), (b"b",)]


@pytest.mark.parametrize("name, content", [
    ("new.csv", "id,text\n1,first text\n2,\"second, quoted\"\n"),
    ("new.jsonl", '{"text": "first text"}\n\n{"text": "second, quoted", "label": 7}\n'),
])
def test_unlabelled_texts_for_scoring_keep_where_each_row_came_from(tmp_path, name, content):
  """A task without a label column reads texts alone (a label field, if any, is ignored),
  and row_ids adds each row's origin."""
  (tmp_path / "d").mkdir()
  (tmp_path / "d" / name).write_text(content)
  task = task_lib.Task(task_lib.BINARY, ("neg", "pos"), label_column="")
  rows = _read(_do(tmp_path, tmp_path / "d", [("score", name)], task, row_ids=True), "score")
  found = sorted((r.features.feature["row_id"].bytes_list.value[0].decode(),
                  r.features.feature["text"].bytes_list.value[0].decode()) for r in rows)
  assert sorted(t for _, t in found) == ["first text", "second, quoted"]
  assert all(set(r.features.feature) == {"text", "row_id"} for r in rows)
  lines = sorted(where.rsplit("line ", 1)[1] for where, _ in found)
  assert lines == (["2", "3"] if name.endswith(".csv") else ["1", "3"])


def test_training_examples_have_no_row_id(tmp_path):
  rows = _read(_do(tmp_path, REPO_ROOT / "data" / "trec", [("train", "train.csv")], TREC), "train")
  assert set(rows[0].features.feature) == {"text", "label"}


def test_a_bad_row_names_file_and_line(tmp_path):
  """The executor checks rows itself (a Kubeflow run has no up-front check)."""
  (tmp_path / "d").mkdir()
  (tmp_path / "d" / "train.csv").write_text("text,coarse\nWhat is it ?,DESC\nWho ?,PERSON\n")
  with pytest.raises(Exception, match=r"train.csv, line 3, column 'coarse': label 'PERSON' is not in the task's labels"):
    _do(tmp_path, tmp_path / "d", [("train", "train.csv")], TREC)


def _run_the_pipelines_example_gen(tmp_path, data: DataConfig, name: str, task: task_lib.Task):
  """Do() with the exec properties the pipeline's own TextExampleGen carries."""
  gen = pipeline.make_example_gen(PipelineConfig(name=name, data=data), inputs.find(data, str(tmp_path)), task)
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / "examples")
  properties = {k: proto_utils.proto_to_json(v) if hasattr(v, "DESCRIPTOR") else
                (v if isinstance(v, (str, int)) or v is None else json_utils.dumps(v))
                for k, v in gen.exec_properties.items()}
  executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, properties)
  return examples


def test_the_pipelines_example_gen_gives_eval_one_train_example_in_ten(tmp_path):
  """The split sizes the pipeline's own configuration produces (not a test's)."""
  data = DataConfig(path=str(REPO_ROOT / "data" / "trec"), label_column="coarse")
  examples = _run_the_pipelines_example_gen(tmp_path, data, "trec", TREC)
  train, evaluation, test = (len(_read(examples, s)) for s in ("train", "eval", "test"))
  assert test == 250 and train + evaluation == 606
  assert 0.05 < evaluation / (train + evaluation) < 0.15, (train, evaluation)


def test_aclimdb_class_folders(tmp_path):
  """The committed aclImdb-layout sample: <split>/<class>/*.txt, label from the folder."""
  task = task_lib.Task(task_lib.BINARY, ("neg", "pos"))
  examples = _run_the_pipelines_example_gen(tmp_path, DataConfig(), "imdb-sentiment", task)
  train, evaluation, test = (_read(examples, s) for s in ("train", "eval", "test"))
  assert len(test) == 1000 and len(train) + len(evaluation) == 2000
  labels = lambda rows: collections.Counter(r.features.feature["label"].bytes_list.value[0] for r in rows)  # noqa: E731
  assert labels(test) == {b"neg": 500, b"pos": 500}
  assert labels(train) + labels(evaluation) == {b"neg": 1000, b"pos": 1000}
  review = (REPO_ROOT / "data" / "imdb-sentiment" / "test" / "pos").glob("*.txt").__next__().read_bytes()
  assert review in {r.features.feature["text"].bytes_list.value[0] for r in test}


@pytest.mark.parametrize("header, row, bad", [
    (b"text,label\n", b'"a review",pos\n', b'"\xff",neg\n'),
    (b"", b'{"text": "a review", "label": "pos"}\n', b'{"text": "\xff", "label": "neg"}\n')])
def test_rows_stream_one_at_a_time_and_a_bad_byte_is_named_by_line(tmp_path, header, row, bad):
  """Memory is bounded by a row, not the file (the up-front check and ExampleGen read every
  row; a whole 1.3 GB CSV in memory took 8.6 GB): the first row comes before the bad byte
  far below it is read, and that byte is then named by its line."""
  path = tmp_path / ("rows.csv" if header else "rows.jsonl")
  path.write_bytes(header + row * 10_000 + bad)
  rows = records.read_file(str(path), "text", "label")
  assert next(rows).text == "a review"
  with pytest.raises(InputDataError, match=rf"line {10_001 + bool(header)}: not valid UTF-8"):
    list(rows)


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_lines_may_end_in_lf_crlf_or_a_lone_cr(tmp_path, end):
  """A CSV saved with CR line ends only (classic Mac Excel) reads as one with LF; a quoted
  field keeps its line break as written (tf.io.gfile's readline drops every CR byte)."""
  path = tmp_path / "rows.csv"
  path.write_bytes(end.join([b"text,label", b'"first line' + end + b'second line",pos', b"another,neg", b""]))
  rows = list(records.read_file(str(path), "text", "label"))
  assert [(r.text, r.labels) for r in rows] == [(f"first line{end.decode()}second line", ("pos",)),
                                                 ("another", ("neg",))]


def _writes_reshuffle(runner_args) -> bool:
  """Whether the splits' writing, added to a pipeline on these Beam options, shuffles."""
  beam_pipeline = beam.Pipeline(options=PipelineOptions(list(runner_args)))
  examples = standard_artifacts.Examples()
  examples.uri = "/nonexistent"
  examples.split_names = artifact_utils.encode_split_names(["train"])
  splits = {"train": beam_pipeline | beam.Create([b"an example"], reshuffle=False)}
  executor.write_splits(beam_pipeline, splits, examples, example_gen_pb2.FORMAT_TFRECORDS_GZIP, {})
  return any(t.spec.urn == common_urns.composites.RESHUFFLE.urn
             for t in beam_pipeline.to_runner_api().components.transforms.values())


def test_splits_are_written_unshuffled_where_the_shuffle_would_only_hold_them_in_memory():
  """On the DirectRunner (in process or in worker processes) TFX's shuffle of each split
  hardly reorders it and holds it whole in memory (executor.write_splits); on the
  runners that spread work over machines it stays, as TFX writes it."""
  assert not _writes_reshuffle(IN_PROCESS_BEAM_ARGS)
  assert not _writes_reshuffle(MULTI_PROCESS_BEAM_ARGS)
  assert _writes_reshuffle(["--runner=PortableRunner", "--job_endpoint=localhost:8099"])
