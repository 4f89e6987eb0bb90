"""Ingest: patient documents → cleaned, sectioned, safety-tagged passages → chunks → Chroma + keyword index."""

from .settings import BotSettings, IndexSettings, LogSettings, Settings, StaffSettings

__all__ = ["BotSettings", "IndexSettings", "LogSettings", "Settings", "StaffSettings"]
