"""The call-script checker: every defect class is reported at its exact line and column.

Each test writes one small file (inline, dedented: line 1 is the line right after the opening
quotes) or copies the fixtures and breaks one thing, then checks where and what is reported.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.errors import FlowFileError
from flows.registry import FlowRegistry
from flows.validate import MAX_SCREEN_CHARS
from tests.flows.helpers import (
    LIBRARY_FIXTURE,
    SCRIPT_FIXTURE,
    at,
    check,
    copy_fixture,
    errors,
    having,
    show,
    single,
    warnings,
    write,
)

REPO = Path(__file__).resolve().parents[2]


def break_line(path: Path, line: int, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` on 1-based ``line`` of ``path`` (which must contain it)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert old in lines[line - 1], f"line {line} of {path.name} is {lines[line - 1]!r}"
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("".join(lines), encoding="utf-8")


# -- a clean file ----------------------------------------------------------------------------------


def test_given_the_fixture_script_and_library_when_checked_then_no_problems(tmp_path: Path) -> None:
    copy_fixture(tmp_path, SCRIPT_FIXTURE)
    copy_fixture(tmp_path, LIBRARY_FIXTURE)

    problems = check(tmp_path, SCRIPT_FIXTURE, LIBRARY_FIXTURE)

    assert problems == [], show(problems)
    flow = FlowRegistry([tmp_path]).get("demo-callback", 1)
    assert flow.start == "greet"


def test_given_a_minimal_inline_script_when_checked_then_no_problems(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！我是{brand}的客服。
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    assert check(tmp_path, "demo.v1.yaml") == []


# -- YAML ------------------------------------------------------------------------------------------


def test_given_a_key_indented_one_space_short_when_checked_then_syntax_error_at_that_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
           hint: 语气镇定
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (11, 4)
    assert problem.message.startswith("YAML syntax:")
    assert "indentation" in problem.hint


def test_given_an_unclosed_quote_when_checked_then_syntax_error_points_at_the_opening_quote(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: "演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert problem.message.startswith("YAML syntax:")
    # the quote opens at line 3, column 8; the end of the file (line 13) tells the author nothing
    assert at(problem) == (3, 8), str(problem)


def test_given_a_state_defined_twice_when_checked_then_the_second_is_reported_with_the_first_line(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed}
          greet:
            say: 再见
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (13, 3)
    assert problem.message == "duplicate key `greet` (first at line 9)"
    assert problem.path == "states.greet"


def test_given_a_key_repeated_in_a_flow_mapping_when_checked_then_duplicate_key_at_the_repeat(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed, label: 行}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (12, 38)
    assert problem.message == "duplicate key `label` (first at line 12)"


def test_given_a_gbk_encoded_file_when_checked_then_not_utf8_at_the_first_chinese_line(tmp_path: Path) -> None:
    text = (Path(__file__).parent / "fixtures" / SCRIPT_FIXTURE).read_text(encoding="utf-8")
    (tmp_path / SCRIPT_FIXTURE).write_bytes(text.encode("gbk"))
    copy_fixture(tmp_path, LIBRARY_FIXTURE)

    problem = single(check(tmp_path, SCRIPT_FIXTURE))

    assert problem.line == 3  # `title: 回访邀约示例` holds the first non-ASCII byte
    assert problem.message == "the file is not UTF-8"
    assert "UTF-8" in problem.hint


@pytest.mark.parametrize("text", ["", "\n\n", "# 还没写\n"], ids=["zero-bytes", "blank-lines", "only-a-comment"])
def test_given_an_empty_file_when_checked_then_file_is_empty_at_line_1(tmp_path: Path, text: str) -> None:
    write(tmp_path, "demo.v1.yaml", text)

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (1, 1)
    assert problem.message == "the file is empty"


# -- shape: keys and types -------------------------------------------------------------------------


def test_given_say_misspelt_sya_when_checked_then_unknown_key_at_the_typo(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            sya: 您好！
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problems = check(tmp_path, "demo.v1.yaml")

    unknown = having(problems, "unknown key")
    assert at(unknown) == (10, 5)
    assert unknown.message == "unknown key `sya`"
    assert unknown.severity == "error"
    assert unknown.path == "states.greet.sya"
    assert "spelling" in unknown.hint
    assert {p.message for p in errors(problems)} == {"unknown key `sya`", "missing key `say`"}


def test_given_version_one_in_words_when_checked_then_wrong_type_at_the_value(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: one
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (2, 10)
    assert "valid integer" in problem.message
    assert problem.path == "version"


def test_given_label_yes_read_as_a_bool_when_checked_then_wrong_type_with_a_quoting_hint(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: yes, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (12, 17)
    assert "valid string" in problem.message
    assert "quote" in problem.hint
    assert problem.path == "states.greet.options[0].label"


def test_given_a_state_without_say_when_checked_then_missing_key_at_the_state_body(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            title: 接通
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    # reported at the state's mapping (its first key), with the state's path
    assert at(problem) == (10, 5)
    assert problem.message == "missing key `say`"
    assert problem.path == "states.greet"


@pytest.mark.parametrize(
    ("option", "extra"),
    [
        ("{label: 好的, outcome: agreed, to: greet}", " (it has to, outcome)"),
        ("{label: 好的}", ""),
    ],
    ids=["two-destinations", "no-destination"],
)
def test_given_an_option_without_exactly_one_destination_when_checked_then_error_at_the_option(
    tmp_path: Path, option: str, extra: str
) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        f"""\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {{label: 同意, category: success}}
        states:
          greet:
            say: 您好！
            options:
              - {option}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (12, 9)
    assert problem.message == (
        "an option needs exactly one of `to: <state>`, `outcome: <code>` or `return: true`" + extra
    )
    assert problem.path == "states.greet.options[0]"


def test_given_a_choice_field_without_choices_when_checked_then_error_at_the_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您想要哪个套餐？
            capture:
              - {name: plan, label: 套餐, type: choice}
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (12, 9)
    assert "choice field needs a non-empty `choices`" in problem.message
    assert problem.path == "states.greet.capture[0]"


# -- the state graph -------------------------------------------------------------------------------


def test_given_a_misspelt_to_target_when_checked_then_unknown_target_with_did_you_mean(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
          declined: {label: 婉拒, category: refused}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, to: offr}
              - {label: 不要, outcome: declined}
          offer:
            say: 标准版还是高级版？
            options:
              - {label: 标准版, outcome: agreed}
        """,
    )

    problems = check(tmp_path, "demo.v1.yaml")

    target = having(problems, "unknown target")
    assert at(target) == (13, 25)
    assert target.severity == "error"
    assert target.message == "unknown target state `offr` in the script"
    assert target.hint == "did you mean `offer`?"
    # nothing else leads to `offer`, so it is unreachable too
    assert at(having(problems, "unreachable")) == (15, 3)
    assert len(errors(problems)) == 2, show(problems)


def test_given_the_fixture_with_a_misspelt_target_when_checked_then_the_line_of_the_typo(tmp_path: Path) -> None:
    script = copy_fixture(tmp_path, SCRIPT_FIXTURE)
    copy_fixture(tmp_path, LIBRARY_FIXTURE)
    break_line(script, 31, "to: offer", "to: offr")

    problems = check(tmp_path, SCRIPT_FIXTURE)

    target = having(problems, "unknown target")
    assert at(target) == (31, 25)
    assert target.hint == "did you mean `offer`?"
    assert target.path == "states.purpose.options[0].to"


def test_given_a_state_nothing_leads_to_when_checked_then_unreachable_at_its_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed}
          island:
            say: 没有人会到这里
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (13, 3)
    assert problem.message == "state `island` is unreachable from `greet`"
    assert problem.path == "states.island"


def test_given_two_states_pointing_at_each_other_when_checked_then_both_are_dead_ends(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          declined: {label: 婉拒, category: refused}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, to: ping}
              - {label: 不要, outcome: declined}
          ping:
            say: 乒
            options:
              - {label: 接着, to: pong}
          pong:
            say: 乓
            options:
              - {label: 回去, to: ping}
        """,
    )

    problems = check(tmp_path, "demo.v1.yaml")

    assert [(at(p), p.message) for p in errors(problems)] == [
        ((14, 3), "dead end: no path from state `ping` reaches an outcome"),
        ((18, 3), "dead end: no path from state `pong` reaches an outcome"),
    ], show(problems)
    assert warnings(problems) == []


def test_given_two_options_with_one_label_when_checked_then_duplicate_label_at_the_second(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
          declined: {label: 婉拒, category: refused}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed}
              - {label: 好的, outcome: declined}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (14, 17)
    assert problem.message == "duplicate option label `好的` in state `greet` (also option 1)"
    assert problem.path == "states.greet.options[1].label"


def test_given_return_true_in_a_script_state_when_checked_then_error_at_return(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed}
              - {label: 等等, return: true}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (13, 29)
    assert problem.message == "`return: true` is only for objection handlers"
    assert problem.path == "states.greet.options[1].return"


# -- texts, outcomes, capture fields, checkpoints --------------------------------------------------


def test_given_a_misspelt_variable_in_say_when_checked_then_undefined_variable_with_did_you_mean(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        variables:
          customer_name: {label: 客户姓名, pii: name}
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好，请问是{custmer_name}吗？
            hint: 语气镇定
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (12, 10)
    assert problem.message == "undefined variable `{custmer_name}` in text"
    assert "did you mean `customer_name`?" in problem.hint
    assert problem.path == "states.greet.say"


def test_given_an_undefined_variable_in_hint_when_checked_then_error_at_the_hint(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        variables:
          customer_name: {label: 客户姓名, pii: name}
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好，请问是{customer_name}吗？
            hint: 先报出{brnd}，语气镇定
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (13, 11)
    assert problem.message == "undefined variable `{brnd}` in text"
    assert "did you mean `brand`?" in problem.hint
    assert problem.path == "states.greet.hint"


def test_given_an_undeclared_outcome_when_checked_then_error_with_did_you_mean(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agred}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (12, 30)
    assert problem.message == "undeclared outcome `agred`"
    assert "did you mean `agreed`?" in problem.hint


def test_given_set_into_an_undeclared_field_when_checked_then_error_at_the_field_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed, set: {plan: 标准版}}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (12, 44)
    assert problem.message == "`set` names `plan`, which is not a capture field"
    assert problem.path == "states.greet.options[0].set.plan"


def test_given_set_into_a_variable_not_a_capture_field_when_checked_then_error_at_the_name(tmp_path: Path) -> None:
    # `set` stores into captured fields; texts read a *variable* from the lead/campaign first, so
    # `set: {product: …}` would be silently ignored at run time.
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        variables:
          product: {label: 推荐的产品, default: 会员服务}
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 为您介绍{product}，好吗？
            options:
              - {label: 好的, outcome: agreed, set: {product: 高级版}}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (14, 44)
    assert "`set`" in problem.message
    assert "`product`" in problem.message


def test_given_a_capture_field_declared_twice_with_two_types_when_checked_then_error_at_the_second(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您什么时间方便？
            capture:
              - {name: callback_at, label: 回访时间, type: datetime}
            options:
              - {label: 好的, to: confirm}
          confirm:
            say: 那就{callback_at}，对吗？
            capture:
              - {name: callback_at, label: 回访时间, type: text}
            options:
              - {label: 对, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (18, 16)
    assert problem.message == "capture field `callback_at` is declared again with another type or choices"
    assert problem.path == "states.confirm.capture[0].name"


def test_given_a_capture_field_named_brand_when_checked_then_error_at_the_capture_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您用的是哪个品牌？
            capture:
              - {name: brand, label: 品牌}
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert "`brand`" in problem.message
    # there is no `variables.brand` to point at: the clash is the capture field on line 12
    assert problem.line == 12, str(problem)


def test_given_a_checkpoint_on_an_unknown_state_when_checked_then_error_at_that_state_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        checkpoints:
          - {id: opening_15s, label: 说明来意, within: 15, states: [purpse]}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, to: purpose}
          purpose:
            say: 今天来电是想……
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (9, 57)
    assert problem.message == "checkpoint `opening_15s` names unknown state `purpse`"
    assert problem.hint == "did you mean `purpose`?"


# -- screens and file names: warnings --------------------------------------------------------------


def test_given_a_screen_over_200_characters_when_checked_then_a_warning_and_the_script_still_loads(
    tmp_path: Path,
) -> None:
    long_text = "好" * (MAX_SCREEN_CHARS + 1)
    write(
        tmp_path,
        "demo.v1.yaml",
        f"""\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {{label: 同意, category: success}}
        states:
          greet:
            say: {long_text}
            options:
              - {{label: 好的, outcome: agreed}}
        """,
    )

    problems = check(tmp_path, "demo.v1.yaml")

    assert errors(problems) == [], show(problems)
    problem = single(problems, "warning")
    assert at(problem) == (10, 10)
    assert problem.message == "screen text is 201 characters (over 200)"
    assert "warning:" in str(problem)
    assert FlowRegistry([tmp_path]).get("demo").states["greet"].say == long_text


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_SCREEN_CHARS + 20))
def test_a_screen_warns_exactly_when_longer_than_200(length: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write(
            directory,
            "demo.v1.yaml",
            f"""\
            id: demo
            version: 1
            title: 演示
            brand: 示例公司
            start: greet
            outcomes:
              agreed: {{label: 同意, category: success}}
            states:
              greet:
                say: {"话" * length}
                options:
                  - {{label: 好的, outcome: agreed}}
            """,
        )
        problems = check(directory, "demo.v1.yaml")
    assert errors(problems) == []
    assert len(warnings(problems)) == (1 if length > MAX_SCREEN_CHARS else 0)


def test_given_a_file_name_without_the_version_when_checked_then_a_warning_at_id(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed}
        """,
    )

    problems = check(tmp_path, "demo.yaml")

    assert errors(problems) == [], show(problems)
    problem = single(problems, "warning")
    assert at(problem) == (1, 5)
    assert problem.message == "file name `demo.yaml` does not match id and version"
    assert problem.hint == "name it demo.v1.yaml"


# -- objection libraries ---------------------------------------------------------------------------

SCRIPT_WITH_LIBRARY = """\
    id: demo
    version: 1
    title: 演示
    brand: 示例公司
    objections:
      library: objections@1
      use: [think_it_over]
    variables:
      product: {label: 推荐的产品, default: 会员服务}
    start: greet
    outcomes:
      agreed: {label: 同意, category: success}
    states:
      greet:
        say: 为您介绍{product}，好吗？
        options:
          - {label: 好的, outcome: agreed}
    """


def test_given_the_script_with_library_template_when_checked_then_clean(tmp_path: Path) -> None:
    write(tmp_path, "demo.v1.yaml", SCRIPT_WITH_LIBRARY)
    copy_fixture(tmp_path, LIBRARY_FIXTURE)

    assert check(tmp_path, "demo.v1.yaml") == []


def test_given_an_unknown_objection_in_use_when_checked_then_error_at_the_id(tmp_path: Path) -> None:
    write(tmp_path, "demo.v1.yaml", SCRIPT_WITH_LIBRARY.replace("[think_it_over]", "[think_it_over, too_expensive]"))
    copy_fixture(tmp_path, LIBRARY_FIXTURE)

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (7, 24)
    assert problem.message == "unknown objection `too_expensive` in library objections@1"
    assert "think_it_over" in problem.hint
    assert problem.path == "objections.use[1]"


def test_given_no_library_file_when_checked_then_library_not_found_at_the_reference(tmp_path: Path) -> None:
    write(tmp_path, "demo.v1.yaml", SCRIPT_WITH_LIBRARY)

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (6, 12)
    assert problem.message == "objection library `objections@1` not found"


def test_given_another_library_version_only_when_checked_then_library_not_found(tmp_path: Path) -> None:
    write(tmp_path, "demo.v1.yaml", SCRIPT_WITH_LIBRARY.replace("objections@1", "objections@2"))
    copy_fixture(tmp_path, LIBRARY_FIXTURE)

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (6, 12)
    assert problem.message == "objection library `objections@2` not found"


def test_given_a_script_without_the_library_variables_when_checked_then_error_names_them(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        objections:
          library: objections@1
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed}
        """,
    )
    copy_fixture(tmp_path, LIBRARY_FIXTURE)

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (6, 12)
    assert problem.message == "the library's texts use variables this script does not declare: product"


def test_given_a_library_outcome_redeclared_with_another_category_when_checked_then_error_at_category(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: demo
        version: 1
        title: 演示
        brand: 示例公司
        objections:
          library: objections@1
        variables:
          product: {label: 推荐的产品, default: 会员服务}
        start: greet
        outcomes:
          agreed: {label: 同意, category: success}
          callback: {label: 回访, category: contact}
        states:
          greet:
            say: 您好！
            options:
              - {label: 好的, outcome: agreed}
              - {label: 改天, outcome: callback}
        """,
    )
    copy_fixture(tmp_path, LIBRARY_FIXTURE)

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (12, 35)
    assert problem.message == "outcome `callback` has category `contact` here but `callback` in the objection library"
    assert problem.path == "outcomes.callback.category"


def test_given_a_library_outcome_redeclared_with_the_same_category_when_checked_then_clean(tmp_path: Path) -> None:
    text = SCRIPT_WITH_LIBRARY.replace(
        "      agreed: {label: 同意, category: success}\n",
        "      agreed: {label: 同意, category: success}\n      callback: {label: 回访, category: callback}\n",
    )
    write(tmp_path, "demo.v1.yaml", text)
    copy_fixture(tmp_path, LIBRARY_FIXTURE)

    assert check(tmp_path, "demo.v1.yaml") == []


LIBRARY_WITH_LOOP = """\
    kind: objections
    id: objections
    version: 1
    title: 异议处理
    outcomes:
      callback: {label: 约定回访, category: callback}
    variables:
      product: {label: 推荐的产品}
    objections:
      think_it_over:
        label: 我要考虑一下
        start: ask
        states:
          ask:
            say: 您是对{product}哪一点还有顾虑呢？
            options:
              - {label: 愿意继续听, to: story}
          story:
            say: 很多家长一开始也这么想……
            options:
              - {label: 接着说, to: ask}
    """


def test_given_a_handler_that_never_returns_when_library_checked_then_dead_ends(tmp_path: Path) -> None:
    write(tmp_path, LIBRARY_FIXTURE, LIBRARY_WITH_LOOP)

    problems = check(tmp_path, LIBRARY_FIXTURE)

    assert [(at(p), p.message) for p in problems] == [
        ((14, 7), "dead end: no path from state `ask` reaches an outcome or a `return`"),
        ((18, 7), "dead end: no path from state `story` reaches an outcome or a `return`"),
    ], show(problems)
    assert all(p.file == str(tmp_path / LIBRARY_FIXTURE) for p in problems)


def test_given_a_handler_that_never_returns_when_the_script_is_checked_then_library_errors_shown(
    tmp_path: Path,
) -> None:
    write(tmp_path, LIBRARY_FIXTURE, LIBRARY_WITH_LOOP)
    write(tmp_path, "demo.v1.yaml", SCRIPT_WITH_LIBRARY)

    problems = check(tmp_path, "demo.v1.yaml")

    assert [(p.file, at(p)) for p in errors(problems)] == [
        (str(tmp_path / LIBRARY_FIXTURE), (14, 7)),
        (str(tmp_path / LIBRARY_FIXTURE), (18, 7)),
    ], show(problems)


def test_given_a_handler_with_an_unknown_local_target_when_checked_then_error_with_did_you_mean(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        LIBRARY_FIXTURE,
        """\
        kind: objections
        id: objections
        version: 1
        title: 异议处理
        outcomes:
          callback: {label: 约定回访, category: callback}
        objections:
          think_it_over:
            label: 我要考虑一下
            start: ask
            states:
              ask:
                say: 您是对哪一点还有顾虑呢？
                options:
                  - {label: 愿意继续听, return: true}
                  - {label: 讲个故事, to: stroy}
              story:
                say: 很多家长一开始也这么想……
                options:
                  - {label: 明白了, return: true}
        """,
    )

    problems = check(tmp_path, LIBRARY_FIXTURE)

    target = having(problems, "unknown target")
    assert at(target) == (16, 31)
    assert target.message == "unknown target state `stroy` in this objection handler"
    assert target.hint == "did you mean `story`?"
    assert target.path == "objections.think_it_over.states.ask.options[1].to"
    assert at(having(problems, "unreachable")) == (17, 7)
    assert len(errors(problems)) == 2, show(problems)


# -- the exception a registry raises ---------------------------------------------------------------


def test_given_a_broken_script_when_got_from_the_registry_then_flow_file_error_lists_the_problems(
    tmp_path: Path,
) -> None:
    script = copy_fixture(tmp_path, SCRIPT_FIXTURE)
    copy_fixture(tmp_path, LIBRARY_FIXTURE)
    break_line(script, 31, "to: offer", "to: offr")

    with pytest.raises(FlowFileError) as caught:
        FlowRegistry([tmp_path]).get("demo-callback", 1)

    exc = caught.value
    assert exc.error_id == "flow.invalid"
    assert [(at(p), p.severity) for p in exc.problems if "offr" in p.message] == [((31, 25), "error")]
    assert {p.message for p in exc.problems} >= {
        "unknown target state `offr` in the script",
        "state `offer` is unreachable from `greet`",
        "state `confirm` is unreachable from `greet`",
    }
    name = str(script.resolve())
    assert f"{name}:31:25: error: unknown target state `offr` in the script" in str(exc)
    assert all(line.startswith(f"{name}:") for line in str(exc).splitlines())
    assert exc.message.endswith(f"(and {len(errors(exc.problems)) - 1} more)")
    assert exc.details["problems"] == [str(p) for p in exc.problems]


def test_given_a_file_with_a_shape_error_when_loaded_by_path_then_flow_file_error_at_the_line(tmp_path: Path) -> None:
    script = copy_fixture(tmp_path, SCRIPT_FIXTURE)
    copy_fixture(tmp_path, LIBRARY_FIXTURE)
    break_line(script, 2, "version: 1", "version: one")

    with pytest.raises(FlowFileError) as caught:
        FlowRegistry([tmp_path]).load_path(script)

    assert [at(p) for p in caught.value.problems] == [(2, 10)]
    assert f"{script.resolve()}:2:10: error:" in str(caught.value)


# -- the real scripts ------------------------------------------------------------------------------


def test_the_shipped_scripts_check_without_errors_or_warnings() -> None:
    paths = sorted((REPO / "flows" / "scripts").glob("*.yaml"))
    assert len(paths) >= 3, f"expected the real scripts in flows/scripts, found {[p.name for p in paths]}"

    problems = FlowRegistry().check(paths)

    assert problems == [], show(problems)


def test_given_a_control_character_when_checked_then_its_line_and_column_are_named(tmp_path: Path) -> None:
    path = tmp_path / "demo.v1.yaml"
    path.write_text("id: demo\nversion: 1\ntitle: 演\x07示\n", encoding="utf-8")
    (problem,) = FlowRegistry([tmp_path]).check([path])
    assert (problem.line, problem.column, problem.severity) == (3, 9, "error")
    assert "not allowed" in problem.message


# -- gaps found by the audit of issue 2 ----------------------------------------------------------

HEADER = """\
id: demo
version: 1
title: 演示
brand: 示例公司
start: greet
outcomes:
  agreed: {label: 同意, category: success}
states:
"""


def test_given_set_of_a_value_not_among_the_choices_when_checked_then_error_at_the_value(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        HEADER
        + """\
  greet:
    say: 您要哪一种？
    capture:
      - {name: plan, label: 套餐, type: choice, choices: [标准版, 高级版]}
    options:
      - {label: 标准版, outcome: agreed, set: {plan: 标准版}}
      - {label: 豪华版, outcome: agreed, set: {plan: 豪华版}}
""",
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (15, 51)
    assert problem.message == "`set` gives `plan` the value `豪华版`: expected one of 标准版, 高级版"
    assert problem.hint == "use one of 标准版, 高级版, or add `豪华版` to the field's `choices`"
    assert problem.path == "states.greet.options[1].set.plan"


def test_given_set_of_a_non_number_into_an_int_field_when_checked_then_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        HEADER
        + """\
  greet:
    say: 几个人？
    capture:
      - {name: people, label: 人数, type: int, max: 9}
    options:
      - {label: 很多, outcome: agreed, set: {people: "12"}}
""",
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (14, 52)
    assert "must be at most 9" in problem.message


@pytest.mark.parametrize(
    ("say", "fragment", "hint"),
    [
        ("请问是{customer_name吗？", "unclosed placeholder `{customer_name`", "close it: `{customer_name}`"),
        ("请问是customer_name}吗？", "stray `}`", "braces are only for `{name}` placeholders"),
        ("请问是{ 吗？", "stray `{`", "braces are only for `{name}` placeholders"),
        ("请问是{Customer}吗？", "`{Customer}` at character 4 is not a placeholder name", "`{customer}`"),
    ],
)
def test_given_a_broken_placeholder_when_checked_then_error_at_the_text(
    tmp_path: Path, say: str, fragment: str, hint: str
) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        HEADER
        + f"""\
  greet:
    say: {say}
    options:
      - {{label: 好的, outcome: agreed}}
""",
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (10, 10)
    assert fragment in problem.message
    assert hint in problem.hint
    assert problem.path == "states.greet.say"


def test_given_an_unclosed_placeholder_in_a_note_when_checked_then_error_at_the_note(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        HEADER
        + """\
  greet:
    say: 您好！
    notes:
      - 记得叫{brand
    options:
      - {label: 好的, outcome: agreed}
""",
    )

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert at(problem) == (12, 9)
    assert "unclosed placeholder `{brand`" in problem.message


@pytest.mark.parametrize(
    ("line", "old", "new", "fragment", "hint"),
    [
        (
            2,
            "version: 1",
            "version: one",
            "valid integer, unable to parse string as an integer (got 'one')",
            "write a whole number without quotes",
        ),
        (2, "version: 1", "version: 0", "greater than or equal to 1", "use a number of at least 1"),
        (7, "label: 同意", "label: ''", "at least 1 character", "it may not be empty"),
        (7, "category: success", "category: win", "'success'", "use one of 'success'"),
        (12, "outcome: agreed", "outcome: agreed, skip_capture: maybe", "valid boolean", "write `true` or `false`"),
        (10, "say: 您好！", "say: [您好]", "valid string", "write text here"),
        (10, "say: 您好！", "say: 您好！\n    notes: 一条", "valid list", "write a list here"),
    ],
)
def test_given_a_wrong_type_or_constraint_when_checked_then_the_hint_says_what_to_write(
    tmp_path: Path, line: int, old: str, new: str, fragment: str, hint: str
) -> None:
    path = write(
        tmp_path,
        "demo.v1.yaml",
        HEADER + "  greet:\n    say: 您好！\n    options:\n      - {label: 好的, outcome: agreed}\n",
    )
    assert check(tmp_path, "demo.v1.yaml") == []
    break_line(path, line, old, new)

    problem = single(check(tmp_path, "demo.v1.yaml"))

    assert fragment in problem.message
    assert hint in problem.hint, str(problem)


def test_every_pydantic_error_gets_a_hint(tmp_path: Path) -> None:
    write(
        tmp_path,
        "demo.v1.yaml",
        """\
        id: Demo
        version: 1.5
        title: ''
        brand: 示例公司
        objections: {library: objections}
        variables: [a]
        start: greet
        outcomes: {}
        checkpoints: {a: 1}
        states:
          greet:
            say: 您好！
            timer: {after: 0, cue: 快}
            options: []
        """,
    )

    problems = errors(check(tmp_path, "demo.v1.yaml"))

    assert len(problems) >= 9, show(problems)
    assert all(p.hint for p in problems), show(problems)


def test_given_a_directory_when_checked_then_every_yaml_in_it_is_checked(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from waihu.cli import main

    copy_fixture(tmp_path, SCRIPT_FIXTURE)
    copy_fixture(tmp_path, LIBRARY_FIXTURE)
    result = CliRunner().invoke(main, ["flows", "check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 file(s): 0 error(s), 0 warning(s)" in result.stdout
    result = CliRunner().invoke(main, ["flows", "check", "--walk", str(REPO / "flows" / "scripts")])
    assert result.exit_code == 0, result.output
    assert "edu-survey-invite@2" in result.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["flows", "check", str(empty)])
    assert result.exit_code == 1
    assert f"{empty}:1:1: error: the directory has no *.yaml files" in result.stderr
