"""The pipeline compiles to a Kubeflow Pipelines v2 spec with the gate wired in, from the
curated schema alone: no data on the compiling machine."""
import json

from kubeflow import kubeflow_runner


def test_compiles_with_every_component_and_the_gate(tmp_path):
  out = kubeflow_runner.compile_pipeline("registry/tfx-text:1", "gs://b/aclImdb", "gs://b/tfx",
                                         str(tmp_path / "spec.json"))
  spec = json.loads(open(out).read())["pipelineSpec"]
  tasks = spec["root"]["dag"]["tasks"]
  for name in ("TextExampleGen", "StatisticsGen", "CuratedSchemaGen", "ExampleValidator", "AnomaliesGate",
               "Transform", "Trainer", "Evaluator", "Pusher"):
    assert name in tasks, name
  assert "AnomaliesGate" in tasks["Transform"].get("dependentTasks", [])
  images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values() if "container" in e}
  assert images == {"registry/tfx-text:1"}
  text = json.dumps(spec)
  assert "/pipeline/schemas/imdb-sentiment/schema.pbtxt" in text and "gs://b/aclImdb" in text
  assert "gs://b/tfx/serving/imdb_sentiment" in text
  assert "train/*/*.txt" in text and "binary" in text


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
                if any(step in name for step in ("TextExampleGen", "StatisticsGen", "Transform", "Evaluator"))]
  assert len(beam_steps) == 4
  for args in beam_steps:
    assert all(option in args for option in flink), args
    assert "--direct_running_mode=multi_processing" not in args
