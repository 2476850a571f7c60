"""`python -m serving.clients.cli`: classify reviews against a TF Serving endpoint.

  python -m serving.clients.cli "A wonderful film."                 # gRPC, localhost:8500
  echo "Dull and far too long." | python -m serving.clients.cli --rest http://localhost:8501
  python -m serving.clients.cli --status        # or --metadata

The model defaults to the one the latest `make run` pushed to (outputs/last_run.json),
else imdb_sentiment. Texts come from the arguments, else one per non-blank line of
standard input; an empty argument is refused (a model answers empty text with what it
learned of no words, which is no prediction). Each line of
output: the predicted label and its probability (a multi-label model: every label above
its decision threshold, comma-separated, or "(none)"), then the start of the text.
"""
import argparse
import json
import sys

from google.protobuf import json_format

from pipeline import paths
from serving.clients.common import DEFAULT_MODEL, ServingClientError, predicted_labels
from serving.clients.grpc_client import GrpcClient
from serving.clients.rest_client import RestClient


def make_client(args):
  if args.rest:
    return RestClient(args.rest, args.model, args.version, args.timeout)
  return GrpcClient(args.grpc, args.model, args.version, args.timeout)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m serving.clients.cli", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("texts", nargs="*", help="reviews to classify (default: lines of stdin)")
  p.add_argument("--grpc", default="localhost:8500", help="gRPC host:port (default)")
  p.add_argument("--rest", default="", help="REST base URL, e.g. http://localhost:8501 (instead of gRPC)")
  p.add_argument("--model", default="", help="TF Serving model name (default: the one the latest run in "
                                              f"--output-dir pushed to, else {DEFAULT_MODEL})")
  p.add_argument("--output-dir", default=str(paths.OUTPUT_DIR), help="where make run wrote last_run.json")
  p.add_argument("--version", type=int, default=None, help="pin a version (default: the latest)")
  p.add_argument("--timeout", type=float, default=10.0, help="deadline per request, seconds")
  p.add_argument("--status", action="store_true", help="print the model's version states")
  p.add_argument("--metadata", action="store_true", help="print the model's signatures")
  args = p.parse_args(argv)
  args.model = args.model or paths.latest_serving_model(args.output_dir)
  client = make_client(args)
  try:
    if args.status:
      for version, state in client.status():
        print(f"{version}\t{state}")
      return 0
    if args.metadata:
      signatures = client.metadata()
      as_dict = {k: v if isinstance(v, dict) else json_format.MessageToDict(v) for k, v in signatures.items()}
      print(json.dumps(as_dict, indent=2))
      return 0
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
      p.error("no text given (arguments or standard input)")
    blank = [i for i, text in enumerate(texts, 1) if not text.strip()]
    if blank:
      p.error(f"text {blank[0]} is empty or only whitespace: give words to classify")
    for text, labels in zip(texts, predicted_labels(client.predict_text(texts))):
      names = ",".join(label for label, _ in labels) or "(none)"
      scores = ",".join(f"{p:.4f}" for _, p in labels) or "-"
      print(f"{names}\t{scores}\t{text[:60]}")
    return 0
  except ServingClientError as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  finally:
    client.close()


if __name__ == "__main__":
  sys.exit(main())
