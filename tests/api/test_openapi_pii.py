"""The OpenAPI document is a response like any other: nothing in it may look like a customer's unmasked phone
or ID number, or the PII scans of responses (issue 7) flag it. Examples write numbers spaced
(``138 0013 8000``) where they are input, masked (``138****5678``) where they are output."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.api.conftest import Api

#: an 11-digit mobile or an 18-digit (last may be X) or 15-digit resident ID number, standing alone: the
#: whole document holds schema bounds such as 2**62 (4611686018427387904), a longer run that is no number
#: of a person, so the document scan uses the boundaries of tests/api/test_pii.py
_ALONE = r"(?<![0-9A-Za-z]){}(?![0-9A-Za-z])"
MOBILE = re.compile(_ALONE.format(r"(?:\+?86)?1[3-9]\d{9}"))
ID_NUMBER = re.compile(_ALONE.format(r"(?:\d{17}[\dXx]|\d{15})"))
#: in the examples, written by hand, not even a piece of a longer run may look like one
STRICT = re.compile(r"1[3-9]\d{9}|\d{15}")


def _examples(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("example", "examples"):
                yield value
            else:
                yield from _examples(value)
    elif isinstance(node, list):
        for item in node:
            yield from _examples(item)


def _scan(text: str) -> list[str]:
    return MOBILE.findall(text) + ID_NUMBER.findall(text)


def test_the_scans_find_what_they_are_for() -> None:
    assert _scan('{"phone": "13812345678"}')
    assert _scan('{"phone": "+8613812345678"}')
    assert _scan('{"id": "11010119900307123X"}')
    assert _scan('{"id": "110101900307123"}')
    assert not _scan('{"phone": "138 0013 8000", "masked": "138****5678", "id": "110***********1234"}')
    assert STRICT.search('{"call_id": "call-13812345678000"}')
    assert not STRICT.search('{"phone": "138 0013 8000", "masked": "138****5678"}')


def test_the_openapi_document_holds_no_unmasked_looking_phone_or_id_number(shared_api: Api) -> None:
    answer = shared_api.client.get("/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    decoded = json.dumps(document, ensure_ascii=False)  # the raw text may escape what the decoded one shows
    assert sorted(set(_scan(answer.text) + _scan(decoded))) == []
    examples = [json.dumps(e, ensure_ascii=False) for e in _examples(document)]
    assert len(examples) > 20  # the walk reached the schemas' examples
    assert [e for e in examples if STRICT.search(e)] == []


def test_the_dnc_example_is_a_valid_number_written_with_spaces(shared_api: Api) -> None:
    schemas = shared_api.client.get("/openapi.json").json()["components"]["schemas"]
    [example] = schemas["DncIn"]["examples"]
    assert example["phone"] == "138 0013 8000"
    answer = shared_api.request("ops_manager", "POST", "/dnc", json=example)
    assert answer.status_code == 200, answer.text
    assert answer.json()["phone_masked"] == "138****8000"
