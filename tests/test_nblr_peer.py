"""The benchmark's NB-weighted logistic regression peer learns what it is given."""
from benchmarks import nblr_peer

POSITIVE = ["a wonderful moving film", "brilliant acting and a wonderful score", "moving and brilliant",
            "i loved it, wonderful", "a brilliant film i loved"]
NEGATIVE = ["a dull boring mess", "awful acting and a dull plot", "boring and awful",
            "i hated it, dull", "an awful film i hated"]


def test_separable_reviews_are_ranked_perfectly():
  train = (POSITIVE + NEGATIVE, ["pos"] * 5 + ["neg"] * 5)
  test = (["wonderful and brilliant", "dull and awful"], ["pos", "neg"])
  for n in (2, 3):
    result = nblr_peer.nb_logistic_regression(train, test, positive="pos", ngram_max=n)
    assert result["auc"] == 1.0 and result["accuracy"] == 1.0
    assert result["train_examples"] == 10 and result["test_examples"] == 2

