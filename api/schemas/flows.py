from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FlowSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ref": "mobile-newspaper-trial@1",
                    "id": "mobile-newspaper-trial",
                    "version": 1,
                    "kind": "script",
                    "title": "移动手机报免费试用",
                    "digest": "1c9a…",
                    "ok": True,
                }
            ]
        }
    )

    ref: str | None
    id: str | None
    version: int | None
    kind: str
    title: str | None
    digest: str
    ok: bool


class OptionOut(BaseModel):
    label: str
    kind: str
    target: str | None


class StateOut(BaseModel):
    key: str
    title: str
    say: str
    hint: str | None
    objection: str | None
    options: list[OptionOut]


class FlowOut(BaseModel):
    ref: str
    id: str
    version: int
    title: str
    brand: str
    digest: str
    start: str
    outcomes: dict[str, str]
    states: list[StateOut]


class DiagramOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ref": "demo-callback@1", "mermaid": "stateDiagram-v2\n    [*] --> s_greet\n"}]
        }
    )

    ref: str
    mermaid: str


class ProblemOut(BaseModel):
    line: int
    column: int
    severity: str
    message: str
    hint: str
    path: str


class ValidationOut(BaseModel):
    """Problems of an uploaded script file, each with its line and column; ``ok`` when it has no error."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ok": False,
                    "problems": [
                        {
                            "line": 12,
                            "column": 9,
                            "severity": "error",
                            "message": "option leads to unknown state `gret`",
                            "hint": "did you mean `greet`?",
                            "path": "states.intro.options[0].to",
                        }
                    ],
                }
            ]
        }
    )

    ok: bool
    problems: list[ProblemOut]
