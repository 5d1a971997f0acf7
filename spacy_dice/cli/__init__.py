"""Typer commands; each module adds its commands to :data:`app`."""
from .app import app

__all__ = ["app"]
