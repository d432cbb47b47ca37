"""Call scripts: list, read, Mermaid diagram, and validation of an uploaded file (problems with line and column)."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Annotated

import yaml
from fastapi import APIRouter, Depends, File, UploadFile

from api.deps import Caller, require_permission
from api.errors import ApiError
from api.schemas.common import ERRORS
from api.schemas.flows import DiagramOut, FlowOut, FlowSummary, OptionOut, ProblemOut, StateOut, ValidationOut
from flows import FlowRegistry
from flows.diagram import mermaid
from flows.registry import MAX_FILE_BYTES, parse_ref
from flows.schema import FlowDoc

router = APIRouter(tags=["flows"], responses=ERRORS)
Viewer = Annotated[Caller, Depends(require_permission("flow.view"))]

#: the largest script upload: the same limit as files the registry reads
MAX_FLOW_BYTES = MAX_FILE_BYTES
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.ya?ml$")


@router.get("/flows", response_model=list[FlowSummary])
async def list_flows(caller: Viewer) -> list[FlowSummary]:
    """Every script and objection library the platform knows, with whether it loads cleanly."""
    out = []
    for loaded in caller.state.flows.catalogue():
        doc = loaded.doc
        kind = "script" if isinstance(doc, FlowDoc) else ("objections" if doc is not None else "unknown")
        title = getattr(doc, "title", None) if doc is not None else None
        out.append(
            FlowSummary(
                ref=f"{doc.id}@{doc.version}" if doc is not None else None,
                id=doc.id if doc is not None else None,
                version=doc.version if doc is not None else None,
                kind=kind,
                title=title if isinstance(title, str) else None,
                digest=loaded.digest,
                ok=loaded.ok,
            )
        )
    return out


@router.get("/flows/{ref}", response_model=FlowOut)
async def get_flow(ref: str, caller: Viewer) -> FlowOut:
    """A compiled script version (``id@version``, or ``id`` for the newest): states, options, outcomes."""
    flow = caller.state.flows.get(*parse_ref(ref))
    return FlowOut(
        ref=flow.ref,
        id=flow.id,
        version=flow.version,
        title=flow.title,
        brand=flow.brand,
        digest=flow.digest,
        start=flow.start,
        outcomes={code: o.label for code, o in flow.outcomes.items()},
        states=[
            StateOut(
                key=s.key,
                title=s.title,
                say=s.say,
                hint=s.hint,
                objection=s.objection,
                options=[OptionOut(label=o.label, kind=o.kind, target=o.target) for o in s.options],
            )
            for s in flow.states.values()
        ],
    )


@router.get("/flows/{ref}/diagram", response_model=DiagramOut)
async def get_diagram(ref: str, caller: Viewer, objections: bool = True) -> DiagramOut:
    """The script as a Mermaid ``stateDiagram-v2``."""
    flow = caller.state.flows.get(*parse_ref(ref))
    return DiagramOut(ref=flow.ref, mermaid=mermaid(flow, objections=objections))


def _reader_problem(data: bytes, exc: yaml.YAMLError) -> ProblemOut:
    position = getattr(exc, "position", 0)
    text = data.decode("utf-8", errors="replace")[: position if isinstance(position, int) else 0]
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return ProblemOut(
        line=line,
        column=column,
        severity="error",
        message="the file holds a character YAML does not allow (a control character)",
        hint="remove it; save the file as plain UTF-8 text",
        path="",
    )


@router.post("/flows/validate", response_model=ValidationOut)
async def validate(
    caller: Viewer, file: Annotated[UploadFile, File(description="a script YAML file")]
) -> ValidationOut:
    """Check an uploaded script without publishing it: every problem with its line and column and a fix."""
    data = await file.read(MAX_FLOW_BYTES + 1)
    if len(data) > MAX_FLOW_BYTES:
        raise ApiError(f"a script file is at most {MAX_FLOW_BYTES // 1024} KB", error_id="api.upload_too_large")
    name = Path(file.filename or "").name
    if not _SAFE_NAME.match(name):
        name = "upload.yaml"
    with tempfile.TemporaryDirectory(prefix="waihu-flow-") as tmp:
        path = Path(tmp) / name
        await asyncio.to_thread(path.write_bytes, data)
        # a fresh registry that also sees the platform's libraries (a script may use objections.v1)
        registry = FlowRegistry([*caller.state.flows.dirs, Path(tmp)])
        try:
            problems = await asyncio.to_thread(registry.check, [path])
        except yaml.YAMLError as exc:  # flows' loader lets a reader error (a control character) escape
            return ValidationOut(ok=False, problems=[_reader_problem(data, exc)])
    return ValidationOut(
        ok=not any(p.severity == "error" for p in problems),
        problems=[
            ProblemOut(line=p.line, column=p.column, severity=p.severity, message=p.message, hint=p.hint, path=p.path)
            for p in problems
        ],
    )
