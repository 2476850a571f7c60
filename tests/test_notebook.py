"""The evaluation dashboard notebook executes headless (nbconvert's ExecutePreprocessor,
a real IPython kernel) on a real run, and every TFMA and TFDV view builds."""
import re

import nbformat
import pytest
from nbconvert.preprocessors import ExecutePreprocessor

from pipeline.config import REPO_ROOT

pytestmark = pytest.mark.slow
NOTEBOOK = REPO_ROOT / "docs" / "evaluation_dashboard.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


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
