"""Does a pushed model answer the same under the TensorFlow of the TF Serving release the
deploy files name (tensorflow/serving:2.19.1, TensorFlow 2.19) as under the TensorFlow
that exported it (2.21)?

    make test-tf-serving-compat     (scripts/tf_serving_compat.sh runs both steps per embedding)
    python -m serving.deploy.tf_serving_compat record MODEL_DIR OUT.npz   # under TF 2.21
    python -m serving.deploy.tf_serving_compat compare MODEL_DIR OUT.npz  # under TF 2.19

Two steps, one per TensorFlow: `record` runs every signature of the model on fixed
inputs and saves the outputs (the project's environment, TF 2.21); `compare` loads the
model under another TensorFlow (a small venv with tensorflow 2.19.1 and tensorflow-text
2.19.0 on a Python it supports) and checks each output against the record to 1e-5. It
also lists the model's ops that core TensorFlow does not register: TF Serving must link
them (stock 2.19.1 links tensorflow-text 2.12.1's ops). Imports only TensorFlow and numpy,
so it runs in both.
"""
import argparse
import json
import os
import sys

import numpy as np
import tensorflow as tf

TEXTS = ["A wonderful film, moving and beautifully acted.", "Dull, predictable and far too long.",
         "What is the capital of Australia?", "", "ok", "Ich habe das Buch nicht zu Ende gelesen.",
         "It was <br /><br />fine, I guess... 3/10"]


def _labels(model_dir: str) -> list:
  with open(os.path.join(model_dir, "assets.extra", "task.json"), encoding="utf-8") as f:
    return json.load(f)["labels"]


def _examples(labels: list) -> np.ndarray:
  out = []
  for i, text in enumerate(TEXTS):
    example = tf.train.Example(features=tf.train.Features(feature={
        "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()])),
        "label": tf.train.Feature(bytes_list=tf.train.BytesList(value=[labels[i % len(labels)].encode()]))}))
    out.append(example.SerializeToString())
  return np.array(out, dtype=object)


def run_signatures(model_dir: str) -> dict:
  """{signature/output: array} for every signature, on TEXTS or their tf.Examples."""
  import tensorflow_text  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  model = tf.saved_model.load(model_dir)
  examples, outputs = _examples(_labels(model_dir)), {}
  for name, function in sorted(model.signatures.items()):
    (key, spec), = function.structured_input_signature[1].items()
    values = np.array([t.encode() for t in TEXTS], dtype=object) if name == "serving_text" else examples
    for output, value in function(**{key: tf.constant(values, dtype=spec.dtype)}).items():
      outputs[f"{name}/{output}"] = value.numpy() if not isinstance(value, tf.SparseTensor) else \
          tf.sparse.to_dense(value).numpy()
  return outputs


def model_ops(model_dir: str) -> set:
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=import-outside-toplevel
  saved = saved_model_pb2.SavedModel()
  with open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
    saved.ParseFromString(f.read())
  ops = set()
  for graph in saved.meta_graphs:
    ops |= {node.op for node in graph.graph_def.node}
    for function in graph.graph_def.library.function:
      ops |= {node.op for node in function.node_def}
  return ops - {f.signature.name for g in saved.meta_graphs for f in g.graph_def.library.function}


def non_core_ops(ops: set) -> list:
  """Ops this TensorFlow does not register without tensorflow-text."""
  from tensorflow.python.framework import op_def_registry  # pylint: disable=import-outside-toplevel
  return sorted(op for op in ops if op_def_registry.get(op) is None)


def compare(model_dir: str, record: str, atol: float = 1e-5) -> list:
  """Problems found (empty: every output within atol of the record)."""
  expected = dict(np.load(record, allow_pickle=True))
  actual = run_signatures(model_dir)
  problems = [f"{key}: missing under TF {tf.__version__}" for key in sorted(set(expected) - set(actual))]
  for key in sorted(set(expected) & set(actual)):
    a, e = actual[key], expected[key]
    if a.shape != e.shape:
      problems.append(f"{key}: shape {a.shape} under TF {tf.__version__}, {e.shape} in the record")
    elif a.dtype.kind in "fc" and not np.allclose(a, e, atol=atol, rtol=0):
      problems.append(f"{key}: differs by up to {np.abs(a - e).max():.2e} (tolerance {atol})")
    elif a.dtype.kind not in "fc" and not np.array_equal(a, e):
      problems.append(f"{key}: values differ")
  return problems


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("step", choices=["record", "compare"])
  p.add_argument("model_dir")
  p.add_argument("record", help="the .npz of outputs")
  args = p.parse_args(argv)
  if args.step == "record":
    ops = model_ops(args.model_dir)
    extra = non_core_ops(ops)  # before run_signatures imports tensorflow_text
    outputs = run_signatures(args.model_dir)
    np.savez(args.record, **outputs)
    print(f"[compat] TF {tf.__version__}: recorded {len(outputs)} outputs of "
          f"{len({k.split('/')[0] for k in outputs})} signatures; {len(ops)} op types; "
          f"not in core TensorFlow: {', '.join(extra) or 'none'}")
    return 0
  problems = compare(args.model_dir, args.record)
  print(f"[compat] TF {tf.__version__}: " + ("every output matches the record to 1e-5" if not problems
                                             else "\n  ".join(["MISMATCH"] + problems)))
  return 1 if problems else 0


if __name__ == "__main__":
  sys.exit(main())
