"""The Evaluator as the gate to production: a model worse than the last blessed one is
not blessed and not pushed, and the run says which metric failed and why; then the
evaluation as people look at it (TFMA's loader, the HTML report in headless Chromium, the
evaluation dashboard notebook executed headless by nbconvert's ExecutePreprocessor in a
real IPython kernel)."""
import pathlib
import re
import shutil
import subprocess

import nbformat
import pytest
import tensorflow_model_analysis as tfma
from nbconvert.preprocessors import ExecutePreprocessor

from pipeline import report
from pipeline.config import REPO_ROOT
from tests.conftest import pushed_versions, serving_files

pytestmark = pytest.mark.slow
NOTEBOOK = REPO_ROOT / "docs" / "evaluation_dashboard.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


def test_a_worse_model_is_not_blessed_and_not_pushed(two_runs):
  config, first, worse, (versions, files) = two_runs
  assert first.blessed and first.pushed_to, first.table()
  assert first.metrics["binary_accuracy"] > 0.6, first.table()  # a real model, worth protecting
  assert first.baseline_metrics is None  # first run: floors only
  table = worse.table()
  assert not worse.blessed, table
  assert worse.pushed_to is None and "nothing pushed" in table
  assert pushed_versions(config) == versions and serving_files(config) == files
  # The table names the failed metric, its change, the candidate's and baseline's values, the bound.
  failed = [line for line in worse.failures if "change vs. baseline" in line]
  assert failed and any(line.startswith(("binary_accuracy", "auc")) for line in failed), table
  for line in failed:
    metric = line.split()[0]
    assert f"candidate {worse.metrics[metric]:.4f}" in line and f"baseline {first.metrics[metric]:.4f}" in line
    assert line.endswith("required >= -0.0100"), line
  assert worse.baseline_metrics["binary_accuracy"] == pytest.approx(first.metrics["binary_accuracy"])


def test_evaluation_loads_in_tfma_with_slices_and_plots(two_runs):
  _, _, worse, _ = two_runs
  result = tfma.load_eval_result(worse.evaluation_uri, model_name="candidate")
  slices = {tuple(k) for k, _ in result.slicing_metrics}
  assert () in slices
  assert any(k and k[0][0] == "length_bucket_xf" for k in slices)
  assert {(("label", "neg"),), (("label", "pos"),)} <= slices
  overall = dict(result.slicing_metrics)[()][""][""]
  assert {"binary_accuracy", "auc", "precision", "recall", "calibration", "example_count"} <= set(overall)
  plots = dict(result.plots)[()][""][""]
  assert "confusionMatrixAtThresholds" in plots and "calibrationHistogramBuckets" in plots
  assert not tfma.load_validation_result(worse.evaluation_uri).validation_ok


def _chromium(*args) -> subprocess.CompletedProcess:
  browser = shutil.which("chromium") or shutil.which("chromium-browser")
  assert browser, "chromium is not installed (scripts/env.sh setup installs it)"
  return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--enable-logging=stderr", "--v=0", *args],
                        capture_output=True, text=True, timeout=120, check=False)


def test_html_report_renders_in_headless_chromium(two_runs, tmp_path, artifacts):
  config, first, worse, _ = two_runs
  page = pathlib.Path(report.write(config, str(tmp_path / "report" / "index.html")))
  text = page.read_text()
  assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # self-contained
  dom = _chromium(f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri())
  assert dom.returncode == 0, dom.stderr[-2000:]
  html_out = dom.stdout
  assert 'data-rendered="true"' in html_out, "the page's script did not run"
  errors = re.search(r'<html[^>]*data-errors="([^"]*)"', html_out)
  assert errors is None, f"script errors on the page: {errors and errors[1]}"
  console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l]
  assert console == [], console
  # The key numbers: verdict, failed metric with value and bound, candidate and baseline.
  assert "Not blessed: nothing pushed" in html_out
  assert f"{worse.metrics['binary_accuracy']:.4f}" in html_out
  assert f"{first.metrics['binary_accuracy']:.4f}" in html_out  # the baseline's
  assert "required &gt;= -0.0100" in html_out or "required >= -0.0100" in html_out
  for section in ("Metrics by slice", "Confusion matrix", "ROC curve", "Precision-recall curve",
                  "Calibration", "Error analysis", "Worst slices", "Baseline comparison", "Data statistics",
                  "Anomalies", "Lineage"):
    assert section in html_out, section
  assert "minilm-wordpiece-bag" in html_out and "length_bucket_xf" in html_out
  assert "aclImdb_shuffled" in html_out  # lineage: the data this (worse) model was trained on
  shot = artifacts / "report.png"
  taken = _chromium(f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1200,3000",
                    f"--screenshot={shot}", page.as_uri())
  assert taken.returncode == 0 and shot.stat().st_size > 20_000, taken.stderr[-2000:]


def test_dashboard_notebook_executes_on_a_run_with_a_baseline(two_runs, monkeypatch, artifacts):
  config, _, worse, _ = two_runs
  monkeypatch.setenv("TFX_TEXT_OUTPUT_DIR", config.output_dir)  # the kernel inherits it
  monkeypatch.setenv("TFX_TEXT_NAME", config.name)
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  ExecutePreprocessor(timeout=600, kernel_name="python3").preprocess(
      notebook, {"metadata": {"path": str(REPO_ROOT)}})  # raises CellExecutionError on any error
  outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
  text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
  assert worse.evaluation_uri in text and "baseline: baseline" in text
  assert re.search(r"blessed +no", text)
  widgets = [o for o in outputs if WIDGET in o.get("data", {})]
  assert len(widgets) >= 5  # three slicing views, the plots, the baseline's slicing view
  html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
  assert "facets-overview" in html  # TFDV's statistics view
  assert "change" in html            # the candidate/baseline table
  out = artifacts / "evaluation_dashboard.executed.ipynb"
  nbformat.write(notebook, out)
