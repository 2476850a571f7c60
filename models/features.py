"""Feature names shared by Transform, the Trainer, the Evaluator and serving.

Raw column names are configurable (CSV input); everything after Transform uses the
canonical transformed names below, so the model never depends on the input format.
"""

DEFAULT_TEXT_KEY = "text"
DEFAULT_LABEL_KEY = "label"
ROW_ID_KEY = "row_id"   # scoring only: "file, line N" of the row (components/text_example_gen)

TEXT_XF = "text_xf"
LABEL_XF = "label_xf"
# Review length in words, bucketed: a slice the Evaluator reports metrics on.
LENGTH_BUCKET_XF = "length_bucket_xf"
LENGTH_BUCKET_BOUNDARIES = (100, 200, 400)   # words: <100, 100-199, 200-399, >=400

# Signature names of the exported model.
SERVING_EXAMPLES_SIGNATURE = "serving_default"   # serialized tf.Example -> probability
SERVING_TEXT_SIGNATURE = "serving_text"          # raw strings -> probability
TRANSFORM_SIGNATURE = "transform_features"       # serialized tf.Example -> transformed features (TFMA)
# Written beside the exported model (TF Serving ignores assets.extra): the task it was trained for.
TASK_FILE = "assets.extra/task.json"
# ... and the settings it was trained with (models/model.ModelConfig, after any tuning).
MODEL_CONFIG_FILE = "assets.extra/model_config.json"
# ... and each label's decision threshold, {label: threshold} (multi-label; 0.5 otherwise).
THRESHOLDS_FILE = "assets.extra/thresholds.json"
CLASSIFY_SIGNATURE = "classify"                  # serialized tf.Example -> classes, scores (TF Serving Classify)
EXAMPLES_INPUT = "examples"
TEXT_INPUT = "text"
PROBABILITY_OUTPUT = "probabilities"  # binary: P(labels[1]) [batch, 1]; otherwise one column per label
DECISIONS_OUTPUT = "decisions"        # multi-label: 1.0 where a label's probability passes its threshold
THRESHOLDS_OUTPUT = "thresholds"      # multi-label: each label's decision threshold (chosen on eval)
LABELS_OUTPUT = "labels"              # serving_text: the label names, in the columns' order
# TF Serving's Classify contract (tf.saved_model.CLASSIFY_*): one input, classes and scores out.
CLASSIFY_INPUT = "inputs"
CLASSES_OUTPUT = "classes"
SCORES_OUTPUT = "scores"
