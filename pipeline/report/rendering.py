"""Rendering: the report page and the model card from plain data, through the Jinja2
templates in templates/ (the card and the report share their tables, macros.html.j2)."""
import os

import jinja2

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
DASH = "–"


def num(value, digits: int = 4) -> str:
  """A metric: 4 decimals; '–' when missing or NaN; a string (e.g. 'n/a') as it is."""
  if isinstance(value, str):
    return value
  return DASH if value is None or value != value else f"{value:.{digits}f}"


def signed(value, digits: int = 4) -> str:
  return DASH if value is None or value != value else f"{value:+.{digits}f}"


def count(value) -> str:
  return DASH if value is None or value != value else f"{value:,.0f}"


def _environment(autoescape: bool) -> jinja2.Environment:
  env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,
                           undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                           keep_trailing_newline=True)
  env.filters.update(num=num, signed=signed, count=count)
  return env


_HTML = _environment(autoescape=True)
_MARKDOWN = _environment(autoescape=False)


def report_html(context: dict) -> str:
  return _HTML.get_template("report.html.j2").render(**context)


def card_html(context: dict) -> str:
  return _HTML.get_template("model_card.html.j2").render(**context)


def card_markdown(context: dict) -> str:
  return _MARKDOWN.get_template("model_card.md.j2").render(**context)
