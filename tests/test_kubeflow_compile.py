"""The pipeline compiles to a Kubeflow Pipelines v2 spec with the gate wired in, from the
curated schema alone: no data on the compiling machine."""
import importlib.util
import json
import pathlib
import re

import pytest
from tfx.utils import import_utils

from kubeflow import container_run, kubeflow_runner
from pipeline import pipeline as pipeline_def
from pipeline.config import REPO_ROOT, DataConfig


def test_compiles_with_every_component_and_the_gate(tmp_path):
  out = kubeflow_runner.compile_pipeline("registry/tfx-text:1", "gs://b/aclImdb", "gs://b/tfx",
                                         str(tmp_path / "spec.json"))
  spec = json.loads(open(out).read())["pipelineSpec"]
  tasks = spec["root"]["dag"]["tasks"]
  for name in ("TextExampleGen", "StatisticsGen", "CuratedSchemaGen", "ExampleValidator", "AnomaliesGate",
               "Transform", "Trainer", "Evaluator", "InfraValidator", "TestSplitInferrer", "ModelCardGenerator",
               "Pusher"):
    assert name in tasks, name
  assert "ModelCardGenerator" in tasks["Pusher"].get("dependentTasks", [])   # the card is pushed with the model
  assert "AnomaliesGate" in tasks["Transform"].get("dependentTasks", [])
  images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values() if "container" in e}
  assert images == {"registry/tfx-text:1"}
  text = json.dumps(spec)
  assert "/pipeline/schemas/imdb-sentiment/schema.pbtxt" in text and "gs://b/aclImdb" in text
  assert "gs://b/tfx/serving/imdb_sentiment" in text
  assert "train/*/*.txt" in text and "binary" in text
  # The Trainer's model config is decided for the task before compiling: no None reaches a container.
  custom_config = tasks["Trainer"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constantValue"]
  model = json.loads(custom_config["stringValue"])["model"]
  assert (model["embedding_handle"], model["trainable"], model["batch_size"], model["learning_rate"]) == (
      "nb-word-ngram-bag", True, 256, 3e-3)


def test_the_container_runs_table_reads_outputs_the_spec_declares(tmp_path):
  """kubeflow/container_run.py ends with the run's table, made from these tasks' outputs."""
  out = kubeflow_runner.compile_pipeline("img", "gs://b/aclImdb", "gs://b/tfx", str(tmp_path / "spec.json"))
  spec = json.loads(open(out).read())["pipelineSpec"]
  tasks = spec["root"]["dag"]["tasks"]
  for task, key in container_run.TABLE_OUTPUTS.values():
    component = spec["components"][tasks[task]["componentRef"]["name"]]
    assert key in component["outputDefinitions"]["artifacts"], (task, key)


def test_multi_label_task_from_the_curated_schema(tmp_path):
  out = kubeflow_runner.compile_pipeline("img", "gs://b/goemotions", "gs://b/tfx", str(tmp_path / "spec.json"),
                                         name="goemotions", splits=("train=train.csv", "eval=dev.csv", "test=test.csv"))
  text = open(out).read()
  assert "multi-label" in text and "grief" in text and "dev.csv" in text
  assert "gs://b/tfx/serving/goemotions" in text


def test_beam_args_reach_every_beam_step(tmp_path):
  flink = ("--runner=PortableRunner", "--job_endpoint=flink-jobserver:8099", "--environment_type=EXTERNAL")
  out = kubeflow_runner.compile_pipeline("img", "gs://b/aclImdb", "gs://b/tfx", str(tmp_path / "spec.json"),
                                         beam_args=flink)
  executors = json.loads(open(out).read())["pipelineSpec"]["deploymentSpec"]["executors"]
  beam_steps = [e["container"]["args"] for name, e in executors.items()
                if any(step in name for step in ("TextExampleGen", "StatisticsGen", "Transform", "Evaluator",
                                                 "TestSplitInferrer"))]
  assert len(beam_steps) == 5
  for args in beam_steps:
    assert all(option in args for option in flink), args
    assert "--direct_running_mode=multi_processing" not in args


def test_spec_image_and_entry_points_agree(tmp_path):
  """The fast check CI keeps (the containerized run is `make test-kubeflow`): every entry
  point the spec names exists in this checkout, every path it names under the image's
  repository root is copied there by the Dockerfile, the Dockerfile installs what the
  environment installs, and the local backend understands every task."""
  out = kubeflow_runner.compile_pipeline("img", "/data/aclImdb", str(tmp_path / "tfx"), str(tmp_path / "spec.json"))
  spec = json.loads(open(out).read())
  executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
  commands = [e["container"] for e in executors.values() if "container" in e]
  commands += [c["lifecycle"]["preCacheCheck"] for c in list(commands) if "lifecycle" in c]
  assert len(commands) == 13
  for container in commands:
    assert container["command"][:2] == ["python", "-m"], container["command"]
    assert importlib.util.find_spec(container["command"][2]), container["command"]
    args = container["args"]
    if "--executor_class_path" in args:
      import_utils.import_class_by_path(args[args.index("--executor_class_path") + 1])

  root = kubeflow_runner.IMAGE_REPO_ROOT
  ignored = {line.strip() for line in open(REPO_ROOT / ".dockerignore") if line.strip() and not line.startswith("#")}
  for path in set(re.findall(re.escape(root) + r"/[\w./-]+", json.dumps(spec))):
    relative = pathlib.Path(path).relative_to(root)
    assert (REPO_ROOT / relative).is_file(), path
    assert relative.parts[0] not in ignored, path
  dockerfile = (REPO_ROOT / "kubeflow" / "Dockerfile").read_text()
  assert f"WORKDIR {root}\n" in dockerfile and "\nCOPY . .\n" in dockerfile
  for installed in ("-r requirements/lock.txt", "-r requirements/nodeps.txt"):
    assert installed in dockerfile

  backend = container_run.LocalBackend(spec, [], ["podman"])
  assert sorted(name for name, _, _ in backend.plan()) == sorted(spec["pipelineSpec"]["root"]["dag"]["tasks"])
  store = container_run.MetadataStore(tmp_path / "metadata.json")
  for executor in executors.values():
    for query in executor.get("resolver", {}).get("outputArtifactQueries", {}).values():
      assert store.query(container_run._INPUT_METADATA.sub("x", query["filter"])) == []


def test_baseline_for_the_open_source_backend(tmp_path):
  """The open-source backend has no resolver nodes: --baseline none or a model URI."""
  def compile_(baseline):
    out = kubeflow_runner.compile_pipeline("img", "/data/aclImdb", str(tmp_path / "tfx"),
                                           str(tmp_path / f"{len(baseline)}.json"), baseline=baseline)
    return json.loads(open(out).read())

  default = compile_(pipeline_def.LATEST_BLESSED)
  with pytest.raises(container_run.SpecError, match="rejects resolver nodes"):
    container_run.LocalBackend(default, [], ["podman"], backend=container_run.KFP_OSS).plan()

  none = compile_(pipeline_def.NO_BASELINE)
  container_run.LocalBackend(none, [], ["podman"], backend=container_run.KFP_OSS).plan()
  tasks = none["pipelineSpec"]["root"]["dag"]["tasks"]
  assert "baseline_model" not in tasks["Evaluator"]["inputs"]["artifacts"]
  assert not [t for t in tasks if "resolver" in t or "importer" in t]

  imported = compile_("/tfx/pipelines/imdb-sentiment/run-1/Trainer/model")
  container_run.LocalBackend(imported, [], ["podman"], backend=container_run.KFP_OSS).plan()
  assert imported["pipelineSpec"]["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["artifacts"]["baseline_model"] == {
      "taskOutputArtifact": {"outputArtifactKey": "result", "producerTask": pipeline_def.BASELINE_IMPORTER_ID}}
  executor = imported["pipelineSpec"]["deploymentSpec"]["executors"][f"{pipeline_def.BASELINE_IMPORTER_ID}_executor"]
  assert executor["importer"]["artifactUri"]["constantValue"]["stringValue"].endswith("run-1/Trainer/model")


def test_the_compile_takes_make_runs_data_options(tmp_path):
  """The GoEmotions CSVs name their label column `labels`: the containers must read it."""
  out = kubeflow_runner.compile_pipeline(
      "img", "/data/goemotions", "/tfx", str(tmp_path / "spec.json"), name="goemotions",
      splits=("train=train.csv", "eval=dev.csv", "test=test.csv"),
      columns=DataConfig(label_column="labels", label_delimiter=";"), schema_in_image="/mnt/schemas/g.pbtxt")
  tasks = json.loads(open(out).read())["pipelineSpec"]["root"]["dag"]["tasks"]
  custom_config = tasks["TextExampleGen"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constantValue"]
  task = json.loads(json.loads(custom_config["stringValue"])["custom_config"]["value"]["task"])
  assert (task["kind"], task["text_column"], task["label_column"], task["label_delimiter"]) == (
      "multi-label", "text", "labels", ";")
  assert "/mnt/schemas/g.pbtxt" in json.dumps(tasks["CuratedSchemaGen"])


def test_a_compile_without_a_schema_names_the_command_that_drafts_one(tmp_path, capsys):
  code = kubeflow_runner.main(["--name", "clickbait", "--data", "/data/clickbait", "--label-column", "is_clickbait",
                               "--output", str(tmp_path / "spec.json")])
  error = capsys.readouterr().err
  assert code == 2 and "MissingSchemaError" in error and "Traceback" not in error
  assert 'make schema ARGS="--data DIR --name clickbait --label-column is_clickbait"' in error
  assert not (tmp_path / "spec.json").exists()


def test_the_intended_use_file_is_compiled_into_the_model_card_step(tmp_path):
  intended = tmp_path / "intended.md"
  intended.write_text("For triage of reviews only.\n")
  out = tmp_path / "spec.json"
  assert kubeflow_runner.main(["--output", str(out), "--intended-use", str(intended)]) == 0
  tasks = json.loads(out.read_text())["pipelineSpec"]["root"]["dag"]["tasks"]
  parameters = tasks["ModelCardGenerator"]["inputs"]["parameters"]
  assert parameters["intended_use"]["runtimeValue"]["constantValue"]["stringValue"] == "For triage of reviews only.\n"
  with pytest.raises(SystemExit):
    kubeflow_runner.main(["--output", str(out), "--intended-use", str(tmp_path / "missing.md")])
