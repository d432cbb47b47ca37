from tests.flows.conftest import clock, registry

__all__ = ["clock", "registry"]
