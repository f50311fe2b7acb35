from __future__ import annotations

from cli._app import main_app

__all__ = ["main_app"]
