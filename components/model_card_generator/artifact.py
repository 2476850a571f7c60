"""The ModelCard artifact and the files in it (the report and the Pusher read them too)."""
from tfx.types import artifact

MARKDOWN_FILE = "model_card.md"
HTML_FILE = "model_card.html"
ERRORS_FILE = "error_analysis.json"   # the most confidently wrong test examples, per class
PUSHED_CARD_DIR = "assets.extra/model_card"   # where the Pusher puts the card inside the pushed version


class ModelCard(artifact.Artifact):
  """A model card (Markdown and HTML) and the error analysis behind it."""
  # <namespace>.<Name>, one dot: what the Kubeflow v2 compiler accepts. A Kubeflow task's
  # entrypoint imports a custom type by that title as a class path, so text_pipeline.py
  # (at the checkout's root, in the image's path) re-exports this class.
  TYPE_NAME = "text_pipeline.ModelCard"
