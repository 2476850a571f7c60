"""The pipeline's StatisticsGen: TFDV's sketches, so memory stays bounded, and exact label counts."""
import collections

import tensorflow_data_validation as tfdv
from tfx.components.statistics_gen import executor as statistics_executor
from tfx.types import channel, standard_artifacts, standard_component_specs

from pipeline import pipeline
from pipeline.config import DataConfig, REPO_ROOT
from tests.test_text_example_gen import TREC, _read, _run_the_pipelines_example_gen


def test_statistics_are_sketched_and_a_labels_values_counted_exactly(tmp_path):
  """Sketch-based top values and uniques (pipeline.make_statistics_gen): a text column's
  distinct values are never grouped in memory, and the label's few values are still
  counted exactly, which SchemaGen and ExampleValidator read."""
  statistics_gen = pipeline.make_statistics_gen(channel.Channel(type=standard_artifacts.Examples))
  properties = statistics_gen.exec_properties
  assert tfdv.StatsOptions.from_json(properties[standard_component_specs.STATS_OPTIONS_JSON_KEY]) \
      .use_sketch_based_topk_uniques

  examples = _run_the_pipelines_example_gen(
      tmp_path, DataConfig(path=str(REPO_ROOT / "data" / "trec"), label_column="coarse"), "trec", TREC)
  statistics = standard_artifacts.ExampleStatistics()
  statistics.uri = str(tmp_path / "statistics")
  statistics_executor.Executor().Do(
      {standard_component_specs.EXAMPLES_KEY: [examples]}, {standard_component_specs.STATISTICS_KEY: [statistics]},
      {standard_component_specs.STATS_OPTIONS_JSON_KEY: properties[standard_component_specs.STATS_OPTIONS_JSON_KEY],
       standard_component_specs.EXCLUDE_SPLITS_KEY: "[]"})

  train = tfdv.load_stats_binary(f"{statistics.uri}/Split-train/FeatureStats.pb")
  label = tfdv.get_feature_stats(train.datasets[0], tfdv.FeaturePath(["label"]))
  counted = collections.Counter(e.features.feature["label"].bytes_list.value[0].decode()
                                for e in _read(examples, "train"))
  assert {v.value: int(v.frequency) for v in label.string_stats.top_values} == dict(counted)
  assert label.string_stats.unique == len(counted)
