"""The default QA sheet, the automatic checks read from a call's transcript, and script funnels."""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import pytest

from flows import FlowEngine, FlowRegistry
from flows.coverage import plan_walks, run_walk
from recordings.autochecks import CallFacts, run_checks
from recordings.errors import SheetError, SheetNotFound
from recordings.funnel import funnel
from recordings.sheets import SheetRegistry, load_sheet
from tests.flows.conftest import FakeClock

SOURCE_RULES = ["第一条", "第二条", "第三条", "第四条", "第五条", "第六条", "第七条", "第八条", "第九条"]


def test_the_default_sheet_carries_the_nine_discipline_rules_and_the_auto_checks() -> None:
    sheet = SheetRegistry().get("discipline").sheet
    manual = [i for i in sheet.items if i.auto is None]
    assert [i.source for i in manual] == [f"第三篇 {n}" for n in SOURCE_RULES]
    assert all(i.points == 1 for i in manual)
    assert manual[0].label.startswith("工作人员必须端正自己的态度")
    assert {i.auto for i in sheet.items if i.auto} == {
        "opening_15s",
        "benefit_45s",
        "no_step_skipped",
        "outcome_matches_last_step",
        "wrap_up_in_time",
    }
    assert sheet.max_points == 14


def test_the_nine_rules_are_the_source_word_for_word() -> None:
    # tests/flows/fixtures/seed-scripts.txt is the source's 第二–四篇 copied verbatim; 第三篇 wraps
    # one line inside 第四条 (a line break, not a word) and uses ASCII commas, which the sheet keeps.
    seed = (Path(__file__).parents[1] / "flows" / "fixtures" / "seed-scripts.txt").read_text(encoding="utf-8")
    part = seed[seed.index("第一条、") : seed.index("第四篇")].replace("\n", "")
    rules = re.findall(r"第([一二三四五六七八九])条、(.*?)(?=第[一二三四五六七八九十]条、|$)", part)
    sheet = SheetRegistry().get("discipline", 1).sheet
    manual = {i.source: i.label for i in sheet.items if i.auto is None}
    assert len(rules) == 9
    for number, text in rules:
        assert manual[f"第三篇 第{number}条"] == text


def test_a_broken_sheet_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.v1.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            kind: qa-sheet
            id: bad
            version: 1
            title: 坏表
            items:
              - {id: a, label: 甲}
              - {id: a, label: 乙, points: zero}
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(SheetError) as err:
        load_sheet(path)
    assert f"{path}:7:" in err.value.message
    with pytest.raises(SheetNotFound):
        SheetRegistry().get("nothing")


async def _call(engine: FlowEngine, clock: FakeClock, answers: list[str], step_seconds: float = 5) -> CallFacts:
    run = engine.new_run({"phone": "13812345678"}, clock=clock)
    await run.start()
    for label in answers:
        clock.advance(step_seconds)
        await run.choose(label)
    await run.close()
    return CallFacts(engine.flow, run.transcript, run.outcome, wrap_up_seconds=20, wrap_up_limit_seconds=30)


async def test_a_clean_quick_call_passes_every_auto_check(registry: FlowRegistry, clock: FakeClock) -> None:
    engine = registry.engine("mobile-newspaper-trial")
    facts = await _call(engine, clock, ["是的", "生活", "好的", "好的"])
    results = run_checks(facts)
    assert {k: r.passed for k, r in results.items()} == {
        "opening_15s": True,
        "benefit_45s": True,
        "no_step_skipped": True,
        "outcome_matches_last_step": True,
        "wrap_up_in_time": True,
    }
    assert results["opening_15s"].at == 5


async def test_a_slow_opening_and_a_long_wrap_up_fail_with_the_offsets(
    registry: FlowRegistry, clock: FakeClock
) -> None:
    engine = registry.engine("mobile-newspaper-trial")
    facts = await _call(engine, clock, ["是的", "生活", "好的", "好的"], step_seconds=50)
    facts = dataclasses.replace(facts, wrap_up_seconds=45)
    results = run_checks(facts)
    assert results["opening_15s"].passed is False
    assert results["opening_15s"].at == 50
    assert "only at 50.0 s" in results["opening_15s"].reason
    assert results["wrap_up_in_time"].passed is False
    assert results["no_step_skipped"].passed is True


async def test_a_tampered_transcript_shows_a_skipped_step_and_a_wrong_outcome(
    registry: FlowRegistry, clock: FakeClock
) -> None:
    engine = registry.engine("mobile-newspaper-trial")
    facts = await _call(engine, clock, ["是的", "生活", "好的", "好的"])
    skipped = [e for e in facts.transcript if not (e.kind == "enter" and e.state == "q1_column")]
    skipped = [e for e in skipped if not (e.kind == "choose" and e.state == "q1_column")]
    result = run_checks(dataclasses.replace(facts, transcript=skipped))["no_step_skipped"]
    assert result.passed is False
    assert "confirm_column" in result.reason
    wrong = run_checks(dataclasses.replace(facts, outcome="refused"))["outcome_matches_last_step"]
    assert wrong.passed is False
    hung_up = run_checks(dataclasses.replace(facts, outcome=None))["outcome_matches_last_step"]
    assert hung_up.passed is False


async def test_objections_and_returns_are_not_counted_as_skips(registry: FlowRegistry, clock: FakeClock) -> None:
    engine = registry.engine("mobile-newspaper-trial")
    run = engine.new_run({"phone": "13812345678"}, clock=clock)
    await run.start()
    await run.choose("是的")
    step = await run.enter_objection("think_it_over")
    returning = next(o for o in engine.flow.states[step.state].options if o.kind == "return")
    await run.choose(returning.index)
    await run.choose("生活")
    await run.choose("好的")
    await run.choose("好的")
    await run.close()
    facts = CallFacts(engine.flow, run.transcript, run.outcome)
    results = run_checks(facts)
    assert results["no_step_skipped"].passed is True
    assert results["wrap_up_in_time"].passed is None


async def test_the_funnel_counts_calls_per_state_and_answers(registry: FlowRegistry) -> None:
    engine = registry.engine("mobile-newspaper-trial")
    walks = plan_walks(engine.flow)
    runs = [await run_walk(engine, w) for w in walks]
    result = funnel(engine.flow, [(r.transcript, r.outcome) for r in runs])
    assert result.calls == len(walks)
    assert result.reached["connect"] == len(walks)  # every call starts there
    first_screen = engine.flow.states["connect"]
    answered_first = sum(1 for r in runs if any(e.kind == "choose" and e.state == "connect" for e in r.transcript))
    ended_in_a_handler = sum(1 for w in walks if w[0].kind == "objection" and all(a.state != "connect" for a in w[1:]))
    assert answered_first + ended_in_a_handler == len(walks)
    assert sum(result.answers[("connect", o.label)] for o in first_screen.options) == answered_first
    assert sum(result.objections.values()) == sum(1 for w in walks if any(a.kind == "objection" for a in w))
    assert sum(result.outcomes.values()) == len(walks)
    rows = result.rows(engine.flow)
    assert rows[0]["state"] == "connect"
    assert rows[0]["share"] == 1.0
    offer = next(r for r in rows if r["state"] == "offer_category")
    assert offer["reached"] == result.reached["offer_category"] < len(walks)
