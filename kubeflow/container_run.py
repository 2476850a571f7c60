"""Runs a compiled KFP v2 spec on one machine, every task in the pipeline image.

    python3 -m kubeflow.container_run SPEC.json --image tfx-text-pipeline:latest \\
        --mount /data/aclImdb --mount /srv/tfx

It does what a Kubeflow Pipelines / Vertex AI backend does with the spec, and nothing
more, so a spec/image mismatch (a module path, a missing package, a placeholder) fails
here as it would on a cluster:
  * tasks run in dependency order, each as `ENGINE run IMAGE <command> <args>` exactly
    as compiled, with `{{$}}` replaced by the ExecutorInput JSON the KFP launcher builds
    (input artifacts with their metadata, parameters, output URIs, the output file);
  * a `lifecycle.preCacheCheck` (ExampleGen's driver) runs first in the same image, and
    its updated parameters and artifact metadata are passed on, as the backend does;
  * after a task, its executor_output.json updates its output artifacts' metadata;
  * resolver tasks are answered from this runner's metadata store (a JSON file in the
    pipeline root standing in for ML Metadata) with the compiled filter: the newest LIVE
    artifact of the schema title whose metadata matches.
Only the standard library is used: it runs on the host, where the container engine is.
Containers get no network: a step that needs one fails.
"""
import argparse
import itertools
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid

REPO = pathlib.Path(__file__).resolve().parents[1]
CONTAINERS_CONF = REPO / "kubeflow" / "containers.conf"
METADATA_FILE = "local_kfp_metadata.json"  # in the pipeline root
# Which backend to behave as: Vertex AI Pipelines runs resolver nodes and ExampleGen's
# lifecycle hook; the open-source KFP 2.x backend refuses resolvers and ignores hooks.
VERTEX, KFP_OSS = "vertex", "kfp-oss"
BACKENDS = (VERTEX, KFP_OSS)
_PLACEHOLDER = "{{$}}"
_INPUT_METADATA = re.compile(r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.metadata\['([^']+)'\]\}\}")
_CLAUSE = re.compile(r'^\s*([\w.]+)\s*=\s*("(?:[^"\\]|\\.)*"|[\w.+-]+)\s*$')
_TITLE = re.compile(r"^title:\s*(\S+)", re.M)


class SpecError(ValueError):
  """The spec uses something this runner (and so, maybe, a backend) cannot do."""


class TaskFailed(RuntimeError):
  """A task's container exited non-zero."""


def default_engine() -> list:
  """docker where its daemon answers, else podman: the choice scripts/image.sh makes."""
  if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
    return ["docker"]
  if shutil.which("podman"):
    return ["podman"]
  raise SystemExit("no container engine: install podman (Debian: apt-get install podman runc) or docker")


def artifact_title(artifact_type: dict) -> str:
  if "schemaTitle" in artifact_type:
    return artifact_type["schemaTitle"]
  match = _TITLE.search(artifact_type.get("instanceSchema", ""))
  if not match:
    raise SpecError(f"artifact type without a title: {artifact_type}")
  return match.group(1)


def task_order(tasks: dict) -> list:
  """Task names in dependency order (ties by name, so runs are repeatable)."""
  needs = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
  for name, task in tasks.items():
    for spec in task.get("inputs", {}).get("artifacts", {}).values():
      if "taskOutputArtifact" in spec:
        needs[name].add(spec["taskOutputArtifact"]["producerTask"])
  order = []
  while needs:
    ready = sorted(n for n, deps in needs.items() if not deps - set(order))
    if not ready:
      raise SpecError(f"the tasks {sorted(needs)} depend on each other in a cycle")
    order += ready
    for n in ready:
      del needs[n]
  return order


def constant(name: str, task: str, spec: dict) -> dict:
  """The compiled constant of a parameter, as an ExecutorInput `parameters` Value."""
  value = spec.get("runtimeValue", {})
  if "constantValue" in value:
    return value["constantValue"]
  if "constant" in value:  # a google.protobuf.Value
    return as_parameter_value(value["constant"])
  raise SpecError(f"task {task}: parameter {name} is not a compiled constant ({spec}); "
                  f"runtime parameters are not supported here")


def as_parameter_value(value) -> dict:
  """A google.protobuf.Value's Python value as an ExecutorInput `parameters` Value."""
  if isinstance(value, str):
    return {"stringValue": value}
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    return {"stringValue": json.dumps(value)}
  return {"intValue": str(int(value))} if float(value).is_integer() else {"doubleValue": value}


def as_struct_value(value: dict):
  """The inverse: an ExecutorInput `parameters` Value as a google.protobuf.Value's Python value."""
  if "stringValue" in value:
    return value["stringValue"]
  if "intValue" in value:
    return int(value["intValue"])
  return float(value["doubleValue"])


class MetadataStore:
  """The artifacts runs produced, newest last: the part of ML Metadata resolvers query."""

  def __init__(self, path: pathlib.Path):
    self.path = path
    self.artifacts = json.loads(path.read_text()) if path.exists() else []

  def add(self, artifact: dict) -> None:
    self.artifacts.append(artifact)
    tmp = self.path.with_suffix(".tmp")
    tmp.write_text(json.dumps(self.artifacts, indent=1))
    os.replace(tmp, self.path)

  def query(self, filter_: str) -> list:
    """The newest artifact matching a compiled resolver filter (`a=b AND c=d`)."""
    clauses = []
    for clause in filter_.split(" AND "):
      match = _CLAUSE.match(clause)
      if not match:
        raise SpecError(f"resolver filter clause not understood: {clause!r} (in {filter_!r})")
      key, raw = match.groups()
      clauses.append((key, json.loads(raw) if raw.startswith('"') else raw))
    for artifact in reversed(self.artifacts):
      if all(_field(artifact, key) == _coerce(value, _field(artifact, key)) for key, value in clauses):
        return [artifact]
    return []


def _field(artifact: dict, key: str):
  if key in ("schema_title", "state", "name"):
    return artifact[key]
  parts = key.split(".")
  if len(parts) == 3 and parts[0] == "metadata" and parts[2] in ("number_value", "string_value"):
    return artifact["metadata"].get(parts[1])
  raise SpecError(f"resolver filter field not supported: {key}")


def _coerce(value, like):
  if isinstance(like, (int, float)) and not isinstance(value, (int, float)):
    try:
      return float(value)
    except ValueError:
      return value
  return value


# The (task, output key) of each artifact the run's table reads: the compiled ids
# (tests/test_kubeflow_compile.py checks them against a spec).
TABLE_OUTPUTS = {"evaluation": ("Evaluator", "evaluation"), "blessing": ("Evaluator", "blessing"),
                 "model": ("Trainer", "model"), "infra": ("InfraValidator", "blessing"),
                 "card": ("ModelCardGenerator", "model_card"), "pushed": ("Pusher", "pushed_model")}


def summary_args(outputs: dict, pipeline_name: str, seconds: float) -> list:
  """The command that prints the run's table (pipeline/summary.py) from the artifacts the
  Trainer, Evaluator, InfraValidator, ModelCardGenerator and Pusher tasks wrote; [] when
  the run produced no evaluation."""
  def first(role):
    found = outputs.get(TABLE_OUTPUTS[role]) or []
    return found[0] if found else None

  def flag(artifact, key) -> bool:
    return bool(artifact) and int(float(artifact["metadata"].get(key, 0))) == 1

  evaluation, model = first("evaluation"), first("model")
  if evaluation is None or model is None:
    return []
  args = ["python", "-m", "pipeline.summary", "--evaluation", evaluation["uri"], "--model", model["uri"],
          "--blessed", "yes" if flag(first("blessing"), "blessed") else "no",
          "--name", pipeline_name, "--wall-seconds", f"{seconds:.0f}"]
  infra = first("infra")
  if infra:
    args += ["--infra-blessing", infra["uri"], "--infra-blessed", "yes" if flag(infra, "blessed") else "no"]
  card = first("card")
  if card:
    args += ["--model-card", card["uri"]]
  pushed = first("pushed")
  if flag(pushed, "pushed"):
    destination = pushed["metadata"]["pushed_destination"]
    args += ["--pushed-to", destination, "--serving-model", os.path.basename(os.path.dirname(destination))]
  return args


class LocalBackend:
  """One run of a compiled spec: tasks in containers, artifacts under the pipeline root."""

  def __init__(self, spec: dict, mounts, engine, image: str = "", backend: str = "vertex", log=print):
    self.spec = spec["pipelineSpec"] if "pipelineSpec" in spec else spec
    runtime = spec.get("runtimeConfig", {})
    self.root = pathlib.Path(runtime.get("gcsOutputDirectory") or runtime.get("gcs_output_directory") or "")
    if not self.root.is_absolute():
      raise SpecError(f"the spec's pipeline root {str(self.root)!r} is not a local absolute path")
    if backend not in BACKENDS:
      raise SpecError(f"backend must be one of {BACKENDS} (got {backend!r})")
    self.image, self.mounts, self.engine, self.backend, self.log = image, list(mounts), list(engine), backend, log
    self.run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    self.root.mkdir(parents=True, exist_ok=True)
    self.store = MetadataStore(self.root / METADATA_FILE)
    self.outputs = {}  # (task, output key) -> [runtime artifact]

  def plan(self) -> list:
    """(task, component, executor) in run order, after the checks a backend makes when a
    run is submitted, so an unsupported spec fails before any task runs."""
    tasks = self.spec["root"]["dag"]["tasks"]
    steps = []
    for name in task_order(tasks):
      component = self.spec["components"][tasks[name]["componentRef"]["name"]]
      executor = self.spec["deploymentSpec"]["executors"][component["executorLabel"]]
      if "triggerPolicy" in tasks[name]:
        raise SpecError(f"task {name}: conditions (triggerPolicy) are not supported here")
      if "resolver" in executor and self.backend == KFP_OSS:  # backend/src/v2/compiler/argocompiler/dag.go
        raise SpecError(f"task {name}: the open-source Kubeflow Pipelines backend rejects resolver nodes "
                        f"(\"resolver executors not implemented\"); compile with --baseline none or MODEL_URI")
      for parameter, value in tasks[name].get("inputs", {}).get("parameters", {}).items():
        constant(parameter, name, value)
      steps.append((name, component, executor))
    return steps

  def run(self) -> dict:
    tasks = self.spec["root"]["dag"]["tasks"]
    run_started = time.time()
    for name, component, executor in self.plan():
      started = time.time()
      if "resolver" in executor:
        self._resolve(name, tasks[name], component, executor["resolver"])
      elif "importer" in executor:
        self._import(name, component, executor["importer"])
      elif "container" in executor:
        self._run_container(name, tasks[name], component, executor["container"])
      else:
        raise SpecError(f"task {name}: executor kind {sorted(executor)} not supported")
      self.log(f"[kfp-local] {name}: done in {time.time() - started:.0f} s")
    self._print_run_table(time.time() - run_started)
    return self.outputs

  def _print_run_table(self, seconds: float) -> None:
    """The run's table (verdict, metrics, where it pushed), as `make run` ends with: made in
    the image by pipeline.summary from the artifacts the tasks wrote."""
    args = summary_args(self.outputs, self.spec.get("pipelineInfo", {}).get("name", ""), seconds)
    if not args:
      return
    image = self.image or next(e["container"]["image"] for e in self.spec["deploymentSpec"]["executors"].values()
                               if "container" in e)
    done = subprocess.run(self._container_command(image, args), capture_output=True, text=True)
    table = done.stdout.strip() if done.returncode == 0 else f"(no table: pipeline.summary exited {done.returncode})\n" \
        + "".join(done.stderr.splitlines(keepends=True)[-10:])
    self.log(f"[kfp-local] the run:\n{table}")

  # --- task kinds ----------------------------------------------------------------
  def _resolve(self, name, task, component, resolver):
    inputs = self._input_artifacts(name, task)
    for key, query in resolver["outputArtifactQueries"].items():
      missing = []
      def metadata(match):
        found = inputs.get(match.group(1))
        if not found:  # the upstream resolver found nothing: nothing to look up
          missing.append(match.group(1))
          return ""
        return str(found[0]["metadata"].get(match.group(2), ""))
      filter_ = _INPUT_METADATA.sub(metadata, query["filter"])
      if "{{" in filter_:
        raise SpecError(f"task {name}: placeholder not supported in resolver filter {filter_!r}")
      found = [] if missing else self.store.query(filter_)
      self.outputs[(name, key)] = [self._runtime(a, component["outputDefinitions"]["artifacts"][key]) for a in found]
      self.log(f"[kfp-local] {name}: {key} = {[a['uri'] for a in found] or 'none'}")

  def _import(self, name, component, importer):
    key = next(iter(component["outputDefinitions"]["artifacts"]))
    uri_spec = importer["artifactUri"]
    uri = uri_spec.get("constant") or uri_spec.get("constantValue", {}).get("stringValue")
    if not uri:
      raise SpecError(f"task {name}: importer URI is not a compiled constant ({uri_spec})")
    title = artifact_title(importer["typeSchema"])
    known = [a for a in self.store.artifacts if a["uri"] == uri and a["schema_title"] == title]
    if known and not importer.get("reimport"):  # the artifact already in the store, as KFP does
      artifact = self._runtime(known[-1], {"artifactType": importer["typeSchema"]})
    else:
      artifact = self._new_artifact(name, key, importer["typeSchema"], uri, importer.get("metadata", {}))
      self._record(name, key, artifact)
    self.outputs[(name, key)] = [artifact]
    self.log(f"[kfp-local] {name}: {key} = {uri} ({artifact['name']})")

  def _run_container(self, name, task, component, container):
    task_root = self.root / self.run_id / name
    task_root.mkdir(parents=True, exist_ok=True)
    parameters = {k: constant(k, name, v) for k, v in task.get("inputs", {}).get("parameters", {}).items()}
    outputs = {key: [self._new_artifact(name, key, definition["artifactType"], str(task_root / key))]
               for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items()}
    executor_input = {
        "inputs": {"artifacts": {k: {"artifacts": v} for k, v in self._input_artifacts(name, task).items()},
                   "parameters": parameters,
                   "parameterValues": {k: as_struct_value(v) for k, v in parameters.items()}},
        "outputs": {"artifacts": {k: {"artifacts": v} for k, v in outputs.items()},
                    "outputFile": str(task_root / "executor_output.json")}}
    hook = container.get("lifecycle", {}).get("preCacheCheck")
    if hook and self.backend == VERTEX:  # the open-source backend never runs lifecycle hooks
      self._exec(name, "driver", container, hook["command"], hook["args"], executor_input, task_root)
      self._apply_driver_output(executor_input, outputs, task_root / "executor_output.json")
    self._exec(name, "executor", container, container["command"], container["args"], executor_input, task_root)
    produced = json.loads((task_root / "executor_output.json").read_text())
    for key, artifacts in outputs.items():
      reported = produced.get("artifacts", {}).get(key, {}).get("artifacts", [])
      if reported:
        artifacts[0]["metadata"].update(reported[0].get("metadata", {}))
      self.outputs[(name, key)] = artifacts
      self._record(name, key, artifacts[0])

  # --- helpers -------------------------------------------------------------------
  def _container_command(self, image: str, argv: list) -> list:
    """argv in a fresh container of image, with no network and the mounted folders at their own paths."""
    volumes = list(itertools.chain.from_iterable(("-v", f"{m}:{m}") for m in self.mounts))
    return [*self.engine, "run", "--rm", "--network", "none", *volumes, image, *argv]

  def _exec(self, name, role, container, command, args, executor_input, task_root):
    payload = json.dumps(executor_input)
    argv = [payload if a == _PLACEHOLDER else a for a in [*command, *args]]
    leftover = [a for a in argv if "{{$" in a]
    if leftover:
      raise SpecError(f"task {name}: placeholders this runner does not fill: {leftover}")
    image = self.image or container["image"]
    cmd = self._container_command(image, argv)
    log_path = task_root / f"{role}.log"
    with open(log_path, "w") as log:
      log.write(shlex.join(cmd[:cmd.index(image) + 1]) + " ...\n")
      log.flush()
      code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0:
      tail = "".join(log_path.read_text().splitlines(keepends=True)[-25:])
      raise TaskFailed(f"task {name} ({role}) exited with {code} in {image}; log: {log_path}\n{tail}")

  def _apply_driver_output(self, executor_input, outputs, path):
    """What the backend does with a driver's ExecutorOutput: its parameters replace the
    task's, and its artifact metadata goes onto the outputs the executor will write."""
    produced = json.loads(path.read_text())
    for key, value in produced.get("parameterValues", {}).items():
      executor_input["inputs"]["parameterValues"][key] = value
      executor_input["inputs"]["parameters"][key] = as_parameter_value(value)
    for key, artifacts in produced.get("artifacts", {}).items():
      if key in outputs and artifacts.get("artifacts"):
        outputs[key][0]["metadata"].update(artifacts["artifacts"][0].get("metadata", {}))

  def _input_artifacts(self, name, task) -> dict:
    result = {}
    for key, spec in task.get("inputs", {}).get("artifacts", {}).items():
      if "taskOutputArtifact" not in spec:
        raise SpecError(f"task {name}: input {key} is not another task's output ({spec}); not supported here")
      ref = spec["taskOutputArtifact"]
      result[key] = self.outputs[(ref["producerTask"], ref["outputArtifactKey"])]
    return result

  def _new_artifact(self, task, key, artifact_type, uri, metadata=None) -> dict:
    return {"name": f"{self.run_id}/{task}/{key}", "type": artifact_type, "uri": uri,
            "metadata": dict(metadata or {})}

  def _runtime(self, stored, definition) -> dict:
    return {"name": stored["name"], "type": definition["artifactType"], "uri": stored["uri"],
            "metadata": dict(stored["metadata"])}

  def _record(self, task, key, artifact):
    self.store.add({"name": artifact["name"], "schema_title": artifact_title(artifact["type"]),
                    "state": "LIVE", "uri": artifact["uri"], "metadata": artifact["metadata"],
                    "run_id": self.run_id, "task": task, "key": key})


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("spec", help="the compiled pipeline JSON (kubeflow/kubeflow_runner.py)")
  p.add_argument("--image", default="", help="run every task in this image instead of the one compiled in")
  p.add_argument("--mount", action="append", default=[],
                 help="a host folder the containers see at the same path (the data, the root), repeatable")
  p.add_argument("--backend", default=VERTEX, choices=BACKENDS, help="which backend's behaviour to reproduce")
  p.add_argument("--engine", default="", help="container engine command (default: docker if its daemon answers, else podman)")
  args = p.parse_args(argv)
  os.environ.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
  engine = shlex.split(args.engine) if args.engine else default_engine()
  spec = json.loads(pathlib.Path(args.spec).read_text())
  try:
    LocalBackend(spec, args.mount, engine, args.image, args.backend).run()
  except (SpecError, TaskFailed) as e:
    print(f"[kfp-local] error: {e}", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
