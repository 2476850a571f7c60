"""Text-embedding modules in TF Hub's format, and resolution of embedding handles."""
