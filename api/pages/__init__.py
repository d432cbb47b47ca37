"""The web pages: plain HTML and small ES modules, no build step, Simplified Chinese on screen.

``login.html`` and ``console.html`` (the agent console) sit here; ``static/`` holds what every page
shares: ``css/waihu.css`` and ``js/api.js`` (fetch with the CSRF header, errors in Chinese, a tiny
element builder). :mod:`api.routes.pages` serves them, outside the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

PAGES_DIR: Final = Path(__file__).resolve().parent
STATIC_DIR: Final = PAGES_DIR / "static"

__all__ = ["PAGES_DIR", "STATIC_DIR"]
