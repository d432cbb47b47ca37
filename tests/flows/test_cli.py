"""`waihu flows check | show | rehearse | list` and `waihu demo`, through the real entry point."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from click.testing import CliRunner

from flows import FlowRegistry
from flows.diagram import mermaid
from waihu.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(str(p) for p in (ROOT / "flows" / "scripts").glob("*.yaml"))


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_check_passes_the_shipped_scripts() -> None:
    code, out, err = run("flows", "check", *SCRIPTS)
    assert code == 0, out + err
    assert "0 error(s), 0 warning(s)" in out


def test_check_walk_plays_every_option_on_the_runtime() -> None:
    code, out, err = run("flows", "check", "--walk", *SCRIPTS)
    assert code == 0, out + err
    assert re.search(r"edu-survey-invite@1: \d+ walks, (\d+)/\1 states, (\d+)/\2 options reached", out)
    assert re.search(r"mobile-newspaper-trial@1: \d+ walks, (\d+)/\1 states, (\d+)/\2 options reached", out)


def test_check_names_file_line_and_exits_1_on_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "demo.v1.yaml"
    broken.write_text(
        textwrap.dedent(
            """\
            id: demo
            version: 1
            title: 演示
            brand: 演示公司
            start: greet
            outcomes:
              done: {label: 完成, category: success}
            states:
              greet:
                say: 您好{nobody}
                options:
                  - {label: 好, to: nowhere}
            """
        ),
        encoding="utf-8",
    )
    code, _out, err = run("flows", "check", str(broken))
    assert code == 1
    assert re.search(rf"{re.escape(str(broken))}:10:\d+: error: undefined variable `\{{nobody\}}`", err)
    assert re.search(rf"{re.escape(str(broken))}:12:\d+: error: unknown target state `nowhere`", err)
    assert "1 file(s): 3 error(s)" in err  # plus the dead end that the bad target leaves


def test_show_prints_a_mermaid_diagram_with_every_state_and_outcome() -> None:
    code, out, _ = run("flows", "show", "edu-survey-invite@1")
    assert code == 0
    flow = FlowRegistry().get("edu-survey-invite", 1)
    assert out.startswith("stateDiagram-v2\n")
    assert out == mermaid(flow)
    for key in flow.states:
        assert "s_" + key.replace("/", "_") in out
    for code_ in flow.outcomes:
        if any(o.kind == "outcome" and o.target == code_ for s in flow.states.values() for o in s.options):
            assert f"o_{code_}" in out


def test_show_an_unknown_script_says_which_exist() -> None:
    code, _, err = run("flows", "show", "no-such-script")
    assert code == 1
    assert "edu-survey-invite@1" in err


def test_list_names_both_scripts_and_the_library() -> None:
    code, out, _ = run("flows", "list")
    assert code == 0
    assert "edu-survey-invite@1\tscript" in out
    assert "mobile-newspaper-trial@1\tscript" in out
    assert "objections@1\tobjections" in out


def test_rehearse_with_an_objection_and_a_customer_type_then_the_trial() -> None:
    # o 1 opens the first handler; its first option returns; t 2 tags the second customer type.
    code, out, _ = run("flows", "rehearse", "mobile-newspaper-trial", stdin="o\no 1\n1\nt 2\n1\n1\n1\n1\n")
    assert code == 0, out
    assert "异议处理（输入 o 编号）" in out
    assert "已标记：沉默的客户" in out
    assert "通话结束：同意开通手机报体验（trial_opened，success）" in out
    assert "138****5678" in out
    assert "13812345678" not in out


def test_rehearse_reports_input_ending_before_the_call() -> None:
    code, out, _ = run("flows", "rehearse", "edu-survey-invite", stdin="1\n")
    assert code == 1
    assert "input ended before the call did" in out


def test_rehearse_asks_again_on_a_bad_choice_and_on_a_missing_capture() -> None:
    # connect → 爸爸接听 → 家长回应 → 不方便 → 约好回电时间 with an empty time (refused), then a valid one.
    stdin = "9\n1\n1\n2\n1\n\n1\n2026-11-28 19:30\n"
    code, out, _ = run("flows", "rehearse", "edu-survey-invite", stdin=stdin)
    assert code == 0, out
    assert "请输入 1 到 5 之间的数字" in out
    assert "回电时间为必填项" in out
    assert "通话结束：约定回电（callback，callback）" in out


def test_rehearse_takes_variables_and_refuses_unknown_ones() -> None:
    code, out, _ = run("flows", "rehearse", "edu-survey-invite", "--var", "student_name=王小明", stdin="5\n")
    assert code == 0
    assert "王**" in out
    assert "王小明" not in out
    code, _, err = run("flows", "rehearse", "edu-survey-invite", "--var", "nobody=x", stdin="")
    assert code == 2
    assert "student_name" in err


def test_flows_demo_walks_both_scripts_to_an_outcome() -> None:
    code, out, _ = run("flows", "demo")
    assert code == 0, out
    assert "trial_opened" in out
    assert out.count("通话结果") == 2


def test_rehearse_the_q2_path_reaches_trial_opened_without_optional_prompts() -> None:
    # 是的 → 不同意/犹豫 → 好的 → 好的: the category screen's optional fields are not asked for.
    code, out, _ = run("flows", "rehearse", "mobile-newspaper-trial", stdin="1\n6\n1\n1\n")
    assert code == 0, out
    assert "记录（可选，排练中略过）：感兴趣的类别、推荐的栏目" in out
    assert "记录 感兴趣的类别" not in out
    assert "通话结束：同意开通手机报体验（trial_opened，success）" in out


def test_rehearse_asks_only_for_required_fields_the_button_does_not_fill() -> None:
    # 爸爸接听 → 家长回应 → 方便 → 小学 (学校, 年级 asked) → 没有 (optional 家长说的问题 not asked) → 好 → 不需要
    stdin = "1\n1\n1\n1\n实验小学\n四年级\n2\n1\n2\n"
    code, out, _ = run("flows", "rehearse", "edu-survey-invite", stdin=stdin)
    assert code == 0, out
    assert "记录 学校（text，必填）：" in out
    assert "记录（必填，选择后询问）：学校、年级" in out
    assert "记录 家长说的问题" not in out
    assert "通话结束：完成调查，暂无需求（survey_done，contact）" in out
