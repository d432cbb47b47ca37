"""A module whose import fails inside, for the LazyGroup tests."""

from __future__ import annotations

raise RuntimeError("bug inside the module")
