"""The pipeline definition, its configuration and the runners that execute it."""
