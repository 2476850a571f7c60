"""Custom TFX components: one folder each, component.py (spec) + executor.py (work)."""
