"""Pipeline files for the `tfx` CLI, one per orchestrator (as in TFX's templates)."""
