"""CuratedSchemaGen: TFX's ImportSchemaGen whose cache key sees the schema's content.

ImportSchemaGen has no inputs and one parameter, the file's path, so with caching on
(`--resume`) an edited schema at the same path would be served from the cache. Here the
run's sources fingerprint (pipeline/sources.py: the project's code and the schema's
bytes) is a second parameter: an edit re-imports the schema and re-runs what uses it.
"""
from tfx import types
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base import base_component
from tfx.types import component_spec
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs

SOURCES_SHA256_KEY = "sources_sha256"


class CuratedSchemaGenSpec(standard_component_specs.ImportSchemaGenSpec):
  PARAMETERS = {**standard_component_specs.ImportSchemaGenSpec.PARAMETERS,
                SOURCES_SHA256_KEY: component_spec.ExecutionParameter(type=str, optional=True)}


class CuratedSchemaGen(ImportSchemaGen):
  """Copies schema_file into the pipeline (TFX's executor); sources_sha256 only keys the cache."""

  SPEC_CLASS = CuratedSchemaGenSpec

  def __init__(self, schema_file: str, sources_sha256: str = ""):  # pylint: disable=super-init-not-called
    base_component.BaseComponent.__init__(self, spec=CuratedSchemaGenSpec(
        schema_file=schema_file, sources_sha256=sources_sha256,
        schema=types.Channel(type=standard_artifacts.Schema)))
