"""Hostile YAML (deep nesting, self-containing or multiplying aliases, huge files) becomes a located problem,
in the loader, the CLI and the API, never a crash: RecursionError, an exhausted memory or a 500."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import flows.yamlmarks
from flows.registry import MAX_FILE_BYTES, read_file
from flows.yamlmarks import MAX_ALIAS_VALUES, MAX_DEPTH, load_marked
from tests.api.conftest import Api, build_api
from waihu.cli import main

DEEP_FLOW = "[" * 5000 + "]" * 5000
DEEP_BLOCK = "".join(" " * i + "-\n" for i in range(200))
DEEP_MAPPING = "{a: " * 3000 + "1" + "}" * 3000
#: nine values, then each anchor nine aliases of the one before: 9**7 values once built
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdef", "bcdefg", strict=True)
)


def _chain(links: int, depth: int) -> str:
    """Anchors each nested ``depth`` levels deep around an alias of the one before: little nesting per anchor,
    but built through the aliases the value goes ``links * depth`` levels down."""
    lines = ["n0: &n0 " + "[" * depth + "x" + "]" * depth]
    lines += [f"n{i}: &n{i} " + "[" * depth + f"*n{i - 1}" + "]" * depth for i in range(1, links + 1)]
    return "\n".join(lines) + "\n"


def _only_problem(text: str) -> flows.yamlmarks.Problem:
    marked, problems = load_marked(text, "deep.yaml")
    assert marked is None
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [(DEEP_FLOW, 1, MAX_DEPTH + 1), (DEEP_BLOCK, MAX_DEPTH + 1, MAX_DEPTH + 1), (DEEP_MAPPING, 1, 4 * MAX_DEPTH + 1)],
    ids=["flow-sequence", "block-sequence", "flow-mapping"],
)
def test_given_a_file_nesting_thousands_of_levels_when_loaded_then_the_level_too_many_is_reported(
    text: str, line: int, column: int
) -> None:
    problem = _only_problem(text)
    assert (problem.line, problem.column, problem.severity) == (line, column, "error")
    assert f"the file nests too deeply (more than {MAX_DEPTH} levels)" in problem.message
    assert "a script needs only a few levels" in problem.message
    assert problem.hint


def test_nesting_up_to_the_limit_loads() -> None:
    marked, problems = load_marked("[" * MAX_DEPTH + "]" * MAX_DEPTH, "ok.yaml")
    assert problems == []
    assert marked is not None


def test_given_an_alias_inside_its_own_anchor_when_loaded_then_the_loop_is_reported_at_the_alias() -> None:
    problem = _only_problem("id: demo\nstates: &s\n  greet: {options: [*s]}\n")
    assert (problem.line, problem.column) == (3, 21)
    assert "the alias `*s` stands for a value that contains it (a loop)" in problem.message


def test_given_a_billion_laughs_when_loaded_then_it_stops_at_the_alias_budget_quickly() -> None:
    started = time.perf_counter()
    problem = _only_problem(LAUGHS)
    assert time.perf_counter() - started < 2.0
    assert f"aliases repeat more than {MAX_ALIAS_VALUES} values" in problem.message
    assert re.fullmatch(r"\*[a-g]", problem.message.split("here `")[1].split("`")[0])
    assert problem.line > 1


def test_given_aliases_that_stack_depth_when_loaded_then_the_depth_is_reported_at_an_alias() -> None:
    problem = _only_problem(_chain(links=40, depth=10))
    assert "nests too deeply" in problem.message
    assert "with its aliases" in problem.message
    assert problem.line > 1


def test_a_few_aliases_still_load_as_copies_with_their_values() -> None:
    text = "opts: &o [{label: 是, to: a}, {label: 否, to: b}]\nstates:\n  a: {options: *o}\n  b: {options: *o}\n"
    marked, problems = load_marked(text, "ok.yaml")
    assert problems == []
    assert marked is not None
    assert marked.data["states"]["a"]["options"] == marked.data["opts"]
    assert marked.data["states"]["b"]["options"][1]["to"] == "b"


def test_a_recursion_error_the_limits_miss_is_still_a_located_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows.yamlmarks, "MAX_DEPTH", 1_000_000)
    problem = _only_problem(DEEP_FLOW)
    assert (problem.file, problem.line, problem.column) == ("deep.yaml", 1, 1)
    assert "nests too deeply" in problem.message


def test_given_a_file_over_the_size_limit_when_read_then_it_is_refused_unparsed(tmp_path: Path) -> None:
    big = tmp_path / "big.v1.yaml"
    big.write_text("- a\n" * (MAX_FILE_BYTES // 4 + 1), encoding="utf-8")
    loaded = read_file(big)
    assert loaded.marked is None
    assert [(p.line, p.column) for p in loaded.problems] == [(1, 1)]
    assert f"larger than {MAX_FILE_BYTES // 1024} KB" in loaded.problems[0].message


def test_cli_check_prints_file_line_column_for_a_deep_file_and_exits_1(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(DEEP_FLOW, encoding="utf-8")
    result = CliRunner().invoke(main, ["flows", "check", str(deep)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert f"{deep}:1:{MAX_DEPTH + 1}: error: the file nests too deeply" in result.stderr
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from build_api(tmp_path_factory.mktemp("api"))


@pytest.mark.parametrize(
    "data",
    [DEEP_FLOW.encode(), DEEP_BLOCK.encode(), LAUGHS.encode(), b"a: &a [*a]\n"],
    ids=["deep-flow", "deep-block", "laughs", "loop"],
)
def test_api_validate_answers_a_located_problem_for_hostile_yaml(api: Api, data: bytes) -> None:
    response = api.request("agent", "POST", "/flows/validate", files={"file": ("deep.yaml", data, "text/yaml")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False
    [problem] = body["problems"]
    expected = _only_problem(data.decode())
    assert (problem["line"], problem["column"], problem["severity"]) == (expected.line, expected.column, "error")
    assert (problem["message"], problem["hint"]) == (expected.message, expected.hint)


def test_api_validate_refuses_a_file_over_the_limit(api: Api) -> None:
    data = b"- a\n" * (MAX_FILE_BYTES // 4 + 1)
    response = api.request("agent", "POST", "/flows/validate", files={"file": ("big.yaml", data, "text/yaml")})
    assert response.status_code == 422
    assert response.json()["error_id"] == "api.upload_too_large"
