"""The call-script file format, as pydantic models.

A script file (``<id>.v<version>.yaml``) and an objection library file share these models. The
models check the *shape* of a file (types, required keys, unknown keys); the cross-references
(targets, reachability, variables used in texts) are checked by :mod:`flows.validate`, which has
the whole picture. See ``docs/flows.md`` for the format with an example.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
FLOW_ID_PATTERN = r"^[a-z][a-z0-9-]*$"
LIBRARY_REF_PATTERN = r"^[a-z][a-z0-9-]*@[1-9][0-9]*$"
FlowId = Annotated[str, StringConstraints(pattern=FLOW_ID_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1)]

#: ``{name}`` placeholders in texts; nothing else in braces is interpreted.
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PiiKind(StrEnum):
    """What kind of personal data a value is; decides how it is masked on screen."""

    PHONE = "phone"
    NAME = "name"
    ID_NUMBER = "id_number"
    ADDRESS = "address"


class OutcomeCategory(StrEnum):
    SUCCESS = "success"
    CONTACT = "contact"
    CALLBACK = "callback"
    REFUSED = "refused"
    WRONG_PARTY = "wrong_party"
    DO_NOT_CALL = "do_not_call"
    NO_CONTACT = "no_contact"


class Variable(_Strict):
    """A value the script's texts use, filled from the lead, the agent or the campaign."""

    label: Text
    pii: PiiKind | None = None
    default: str | None = None
    #: a sample value for rehearsals and previews (never a real customer's)
    example: str | None = None


class Outcome(_Strict):
    label: Text
    category: OutcomeCategory


class CaptureType(StrEnum):
    TEXT = "text"
    CHOICE = "choice"
    DATETIME = "datetime"
    INT = "int"


class CaptureField(_Strict):
    """A value the agent records at a state (an appointment time, the child's grade...)."""

    name: Name
    label: Text
    type: CaptureType = CaptureType.TEXT
    required: bool = False
    choices: list[Text] | None = None
    min: int | None = None
    max: int | None = None
    max_length: int | None = Field(default=None, gt=0)
    pii: PiiKind | None = None

    @model_validator(mode="after")
    def _choices_match_type(self) -> CaptureField:
        if self.type is CaptureType.CHOICE and not self.choices:
            raise ValueError("a choice field needs a non-empty `choices` list")
        if self.type is not CaptureType.CHOICE and self.choices:
            raise ValueError("`choices` is only for fields of type `choice`")
        if (self.min is not None or self.max is not None) and self.type is not CaptureType.INT:
            raise ValueError("`min`/`max` are only for fields of type `int`")
        return self

    def coerce(self, value: Any) -> Any:
        """A value (typed in, or stored by an option's ``set``) checked against this field.

        Raises ValueError saying what is expected."""
        if self.type is CaptureType.INT:
            if isinstance(value, bool):
                raise ValueError("expected a whole number")
            try:
                number = int(str(value).strip())
            except ValueError:
                raise ValueError(f"expected a whole number, got {str(value)[:20]!r}") from None
            if self.min is not None and number < self.min:
                raise ValueError(f"must be at least {self.min}")
            if self.max is not None and number > self.max:
                raise ValueError(f"must be at most {self.max}")
            return number
        if self.type is CaptureType.DATETIME:
            if isinstance(value, datetime):
                return value.isoformat(timespec="minutes")
            text = str(value).strip()
            try:
                return datetime.fromisoformat(text).isoformat(timespec="minutes")
            except ValueError:
                raise ValueError("expected a date and time like 2026-11-28 19:30") from None
        text = str(value).strip()
        if self.type is CaptureType.CHOICE:
            assert self.choices is not None
            if text not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}")
            return text
        if self.max_length is not None and len(text) > self.max_length:
            raise ValueError(f"at most {self.max_length} characters")
        return text


class Option(_Strict):
    """One button on the agent's screen: what the customer said, and where the call goes next.

    Exactly one of ``to`` (a state), ``outcome`` (ends the call) or ``return`` (objection
    handlers only: back to the interrupted state) must be given.
    """

    label: Text
    to: Name | None = None
    outcome: Name | None = None
    return_: bool = Field(default=False, alias="return")
    #: values stored in captured fields when this option is chosen; values may use {placeholders}
    set: dict[Name, str] | None = None
    #: this choice does not need the state's required capture fields (e.g. the customer declined)
    skip_capture: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_destination(self) -> Option:
        given = [k for k, v in (("to", self.to), ("outcome", self.outcome), ("return", self.return_)) if v]
        if len(given) != 1:
            raise ValueError(
                "an option needs exactly one of `to: <state>`, `outcome: <code>` or `return: true`"
                + (f" (it has {', '.join(given)})" if given else "")
            )
        return self


class Timer(_Strict):
    """A coaching cue shown when the agent has stayed in a state longer than ``after`` seconds."""

    after: int = Field(gt=0)
    cue: Text


class State(_Strict):
    """One screen: what the agent says, how, and one button per customer answer."""

    title: Text | None = None
    say: Text
    hint: Text | None = None
    #: reference points the agent may draw on (shown beside the text, not read out)
    notes: list[Text] | None = None
    options: list[Option] = Field(min_length=1)
    capture: list[CaptureField] | None = None
    timer: Timer | None = None


class Checkpoint(_Strict):
    """A golden-opening checkpoint: one of ``states`` must be reached within ``within`` seconds."""

    id: Name
    label: Text
    within: int = Field(gt=0)
    states: list[Name] = Field(min_length=1)


class ObjectionUse(_Strict):
    """Which objection library a script includes, and which of its handlers it offers."""

    library: Annotated[str, StringConstraints(pattern=LIBRARY_REF_PATTERN)]
    use: list[Name] | Literal["all"] = "all"


class FlowDoc(_Strict):
    """A call script: one file, one immutable version."""

    kind: Literal["script"] = "script"
    id: FlowId
    version: int = Field(ge=1)
    title: Text
    brand: Text
    description: str | None = None
    locale: str = "zh-CN"
    objections: ObjectionUse | None = None
    variables: dict[Name, Variable] = Field(default_factory=dict)
    start: Name
    outcomes: dict[Name, Outcome] = Field(min_length=1)
    checkpoints: list[Checkpoint] = Field(default_factory=list)
    states: dict[Name, State] = Field(min_length=1)


class Objection(_Strict):
    """A handler the agent can open from any state; its options return, move on, or end the call."""

    label: Text
    #: the course's principle this reply follows (问比说好, 故事大于道理, 太极胜过直拳, 创造优于破坏)
    principle: str | None = None
    start: Name
    states: dict[Name, State] = Field(min_length=1)


class CustomerType(_Strict):
    label: Text
    tip: Text


class LibraryDoc(_Strict):
    """A shared objection library with the customer types, included by scripts."""

    kind: Literal["objections"]
    id: FlowId
    version: int = Field(ge=1)
    title: Text
    description: str | None = None
    principles: list[Text] = Field(default_factory=list)
    #: outcomes the handlers may end a call with; merged into every including script
    outcomes: dict[Name, Outcome] = Field(default_factory=dict)
    #: variables the handlers' texts use; every including script must declare them
    variables: dict[Name, Variable] = Field(default_factory=dict)
    objections: dict[Name, Objection] = Field(min_length=1)
    customer_types: dict[Name, CustomerType] = Field(default_factory=dict)
