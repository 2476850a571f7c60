"""Import path of the project's custom artifact types as Kubeflow v2 names them.

The Kubeflow v2 compiler accepts a custom artifact type only as `<namespace>.<Name>` and
writes it as the schema title; the task entrypoint then imports that title as a class path
(tfx/orchestration/kubeflow/v2/container/kubeflow_v2_entrypoint_utils.py). So
`text_pipeline.ModelCard` must import.
"""
from components.model_card_generator.artifact import ModelCard  # noqa: F401
