from __future__ import annotations

from pathlib import Path

import pytest

from flows import FlowEngine, FlowRegistry

FIXTURES = Path(__file__).parent / "fixtures"


class FakeClock:
    """A clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fixture_registry() -> FlowRegistry:
    return FlowRegistry([FIXTURES])


@pytest.fixture
def demo_engine(fixture_registry: FlowRegistry) -> FlowEngine:
    return fixture_registry.engine("demo-callback")


@pytest.fixture(scope="session")
def registry() -> FlowRegistry:
    """The package's own scripts (flows/scripts)."""
    return FlowRegistry()
