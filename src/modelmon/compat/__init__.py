"""Compatibility with the systems modelmon replaces: Evidently's removed monitoring service."""
