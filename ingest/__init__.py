"""Ingest: patient documents → cleaned, sectioned, safety-tagged passages → chunks → Chroma + keyword index."""

from .settings import Settings

__all__ = ["Settings"]
