"""A static HTML report of the latest run, and the model card of each pushed model.

    make report                      # outputs/report/index.html for the latest run
    python -m pipeline.report --output-dir outputs --name trec

read.py reads what the run recorded (ML Metadata, TFMA, TFDV, the ModelCard
artifact), charts.py draws SVG, rendering.py fills the Jinja2 templates in templates/
(shared by the report and the card), page.py and model_card.py gather each one's
content. One self-contained file: inline CSS and SVG, no network.
"""
from pipeline.report.cli import main
from pipeline.report.page import render, write
from pipeline.report.read import overall_plots

__all__ = ["main", "overall_plots", "render", "write"]
