"""The ModelCard artifact and the files in it (the report and the Pusher read them too)."""
from tfx.types import artifact

MARKDOWN_FILE = "model_card.md"
HTML_FILE = "model_card.html"
ERRORS_FILE = "error_analysis.json"   # the most confidently wrong test examples, per class
PUSHED_CARD_DIR = "assets.extra/model_card"   # where the Pusher puts the card inside the pushed version


class ModelCard(artifact.Artifact):
  """A model card (Markdown and HTML) and the error analysis behind it."""
  TYPE_NAME = "text_pipeline.ModelCard"   # <namespace>.<Name>: what the Kubeflow v2 compiler accepts
