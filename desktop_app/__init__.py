"""AnomalyGPT Inspector desktop application (PySide6)."""
