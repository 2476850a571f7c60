"""The classic CPU peer on IMDB, trained and scored in the same run as ours.

Naive-Bayes-weighted logistic regression (the NBSVM idea, Wang & Manning 2012): binary
word n-gram counts, each column scaled by the NB log-count ratio computed on the train
split, then an L2 logistic regression (C=0.1). It reads the pipeline's own ExampleGen
output (the train and test splits our model saw), so the two rows compare models on the
same examples, measured on the same machine at the same time.
"""
import re
import time

import numpy as np

from pipeline import summary


# The words of models/embeddings/nb_ngram_bag.py (there in RE2): runs of letters, digits, _
# and ', and ! ? . , each a word. On the eval split this lifts NB-LR on 1-3-grams from
# 0.909 (scikit-learn's default tokens) to 0.919 (C=0.1), so the peer is the stronger one.
TOKENS = r"[\w']+|[!?.,]"


def _preprocess(text: str) -> str:
  return re.sub(r"<br */?>", " ", text.lower())


def read_split(examples_uri: str, split: str) -> tuple[list, list]:
  """(texts, first label of each) of one split of an ExampleGen Examples artifact."""
  from components.text_example_gen import written  # pylint: disable=import-outside-toplevel
  rows = list(written.split_rows(examples_uri, split))
  return [text for text, _ in rows], [labels[0] for _, labels in rows]


def latest_examples_uri(metadata_path: str) -> str:
  from tfx.types import standard_artifacts  # pylint: disable=import-outside-toplevel
  return summary.latest_output(metadata_path, standard_artifacts.Examples, "ExampleGen/examples").uri


def nb_logistic_regression(train: tuple[list, list], test: tuple[list, list], positive: str,
                           ngram_max: int = 2, c: float = 0.1) -> dict:
  """Fits on train, scores test: accuracy, AUC, fit and predict seconds."""
  from sklearn.feature_extraction.text import CountVectorizer  # pylint: disable=import-outside-toplevel
  from sklearn.linear_model import LogisticRegression  # pylint: disable=import-outside-toplevel
  from sklearn.metrics import roc_auc_score  # pylint: disable=import-outside-toplevel
  start = time.time()
  vectorizer = CountVectorizer(ngram_range=(1, ngram_max), binary=True, preprocessor=_preprocess,
                               token_pattern=TOKENS)
  x = vectorizer.fit_transform(train[0])
  y = np.array([label == positive for label in train[1]])
  p = np.asarray(x[y].sum(axis=0)).ravel() + 1.0     # Laplace-smoothed counts per class
  q = np.asarray(x[~y].sum(axis=0)).ravel() + 1.0
  ratio = np.log((p / p.sum()) / (q / q.sum()))
  model = LogisticRegression(C=c, solver="liblinear", max_iter=1000).fit(x.multiply(ratio).tocsr(), y)
  fitted = time.time()
  scores = model.decision_function(vectorizer.transform(test[0]).multiply(ratio).tocsr())
  truth = np.array([label == positive for label in test[1]])
  return {"accuracy": float(((scores > 0) == truth).mean()), "auc": float(roc_auc_score(truth, scores)),
          "fit_seconds": fitted - start, "predict_seconds": time.time() - fitted,
          "train_examples": len(train[0]), "test_examples": len(test[0])}
