"""Call scripts: the YAML format, loader and validator, the runtime state machine, diagrams.

``flows`` imports nothing else of Waihu; the platform passes in what it needs (a PII masker).
"""

from flows.errors import (
    CaptureError,
    FlowError,
    FlowFileError,
    FlowNotFound,
    FlowRunError,
    InvalidChoice,
    Problem,
    UnknownObjection,
)
from flows.model import Flow, FlowOption, FlowState
from flows.registry import PACKAGE_SCRIPTS, FlowRegistry
from flows.runtime import CheckpointStatus, FlowEngine, FlowRun, StepView, TranscriptEntry

__all__ = [
    "PACKAGE_SCRIPTS",
    "CaptureError",
    "CheckpointStatus",
    "Flow",
    "FlowEngine",
    "FlowError",
    "FlowFileError",
    "FlowNotFound",
    "FlowOption",
    "FlowRegistry",
    "FlowRun",
    "FlowRunError",
    "FlowState",
    "InvalidChoice",
    "Problem",
    "StepView",
    "TranscriptEntry",
    "UnknownObjection",
]
