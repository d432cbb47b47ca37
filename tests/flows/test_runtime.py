"""The runtime on the docs' example script: choices, captures, objections, coaching, persistence."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from flows import CaptureError, FlowEngine, FlowRegistry, FlowRunError, InvalidChoice, UnknownObjection
from flows.runtime import mask_fully
from tests.flows.conftest import FIXTURES, FakeClock
from waihu.pii import mask

LEAD = {"customer_name": "张三丰"}


async def test_given_a_lead_when_the_run_starts_then_the_first_screen_shows_the_name_masked(
    demo_engine: FlowEngine,
) -> None:
    run = demo_engine.new_run(LEAD, mask=mask)
    step = await run.start()
    assert step.state == "greet"
    assert step.text == "您好！请问是张**吗？"
    assert "张三丰" not in step.text
    assert [o.label for o in step.options] == ["是本人", "打错了"]
    assert step.hint == "语气镇定，语速平缓"
    await run.close()


async def test_without_a_masker_no_pii_is_shown_at_all(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD)
    step = await run.start()
    assert step.text == "您好！请问是***吗？"
    assert mask_fully("phone", "13812345678") == "*" * 11
    await run.close()


async def test_choices_by_index_and_label_walk_to_an_outcome(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD, mask=mask)
    await run.start()
    step = await run.choose("是本人")
    assert step is not None
    assert step.text == "我是示例公司的小李，今天来电想向您介绍会员服务，您现在说话方便吗？"
    step = await run.choose(0)
    assert step is not None
    assert step.state == "offer"
    step = await run.choose("高级版")
    assert step is not None
    assert step.text == "好的，为您登记高级版，稍后会有短信提示，好吗？"
    assert run.captured == {"plan": "高级版"}
    assert await run.choose("好的") is None
    assert run.ended
    assert run.outcome == "agreed"
    kinds = [(e.kind, e.state, e.label) for e in run.transcript]
    assert kinds == [
        ("enter", "greet", None),
        ("choose", "greet", "是本人"),
        ("enter", "purpose", None),
        ("choose", "purpose", "方便"),
        ("enter", "offer", None),
        ("choose", "offer", "高级版"),
        ("enter", "confirm", None),
        ("choose", "confirm", "好的"),
        ("outcome", "__end__", "agreed"),
    ]
    with pytest.raises(InvalidChoice):
        await run.choose(0)
    await run.close()
    assert run not in demo_engine.machine.models


async def test_an_unknown_option_is_refused_with_the_options_listed(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD)
    await run.start()
    with pytest.raises(InvalidChoice) as err:
        await run.choose("不存在的回答")
    assert err.value.details["options"] == ["是本人", "打错了"]
    with pytest.raises(InvalidChoice):
        await run.choose(7)
    assert run.state == "greet"
    await run.close()


async def test_required_capture_is_enforced_unless_the_option_skips_it(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD)
    await run.start()
    await run.choose("是本人")
    await run.choose("不方便")
    with pytest.raises(CaptureError) as err:
        await run.choose("约好时间")
    assert set(err.value.details["fields"]) == {"callback_at"}  # type: ignore[call-overload]
    with pytest.raises(CaptureError):
        await run.choose("约好时间", {"callback_at": "明天晚上"})
    with pytest.raises(CaptureError):
        await run.choose("约好时间", {"no_such_field": "x"})
    assert run.state == "ask_callback"
    assert await run.choose("约好时间", {"callback_at": "2026-11-28 19:30"}) is None
    assert run.outcome == "callback"
    assert run.captured["callback_at"] == "2026-11-28T19:30"
    assert run.transcript[-2].values == {"callback_at": "2026-11-28T19:30"}
    await run.close()

    other = demo_engine.new_run(LEAD)
    await other.start()
    await other.choose("是本人")
    await other.choose("不方便")
    assert await other.choose("不愿再接电话") is None
    assert other.outcome == "declined"
    await other.close()


async def test_a_choice_field_takes_only_its_choices(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD)
    await run.start()
    await run.choose("是本人")
    await run.choose("方便")
    with pytest.raises(CaptureError) as err:
        await run.choose("不需要", {"plan": "至尊版"})
    assert "标准版" in str(err.value.details["fields"])
    await run.close()


async def test_an_objection_returns_to_the_interrupted_screen(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD)
    await run.start()
    await run.choose("是本人")
    step = await run.enter_objection("think_it_over")
    assert step.objection == "think_it_over"
    assert step.objection_label == "我要考虑一下"
    assert step.depth == 1
    assert run.stack == ["purpose"]
    with pytest.raises(InvalidChoice):
        await run.enter_objection("think_it_over")
    step = await run.choose("愿意继续听")
    assert step is not None
    assert step.state == "purpose"
    assert run.stack == []
    assert [e.kind for e in run.transcript[-4:]] == ["objection", "enter", "choose", "return"]
    await run.close()


async def test_an_objection_can_end_the_call_with_a_library_outcome(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD)
    await run.start()
    await run.enter_objection("think_it_over")
    assert await run.choose("坚持要考虑") is None
    assert run.outcome == "callback"
    assert run.stack == []
    await run.close()


async def test_an_objection_the_script_does_not_offer_is_refused(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD)
    await run.start()
    with pytest.raises(UnknownObjection):
        await run.enter_objection("too_expensive")
    await run.close()


async def test_golden_opening_checkpoints_follow_the_clock(demo_engine: FlowEngine, clock: FakeClock) -> None:
    on_time = demo_engine.new_run(LEAD, clock=clock)
    await on_time.start()
    assert on_time.checkpoints()[0].status == "pending"
    clock.advance(9)
    await on_time.choose("是本人")
    cp = on_time.checkpoints()[0]
    assert (cp.status, cp.reached_at) == ("met", 9)

    late = demo_engine.new_run(LEAD, clock=clock)
    await late.start()
    clock.advance(16)
    assert late.checkpoints()[0].status == "missed"
    await late.choose("是本人")
    assert late.checkpoints()[0].status == "late"

    wrong = demo_engine.new_run(LEAD, clock=clock)
    await wrong.start()
    await wrong.choose("打错了")
    assert wrong.checkpoints()[0].status == "missed"
    for run in (on_time, late, wrong):
        await run.close()


async def test_customer_type_tags_and_hang_up_are_recorded(demo_engine: FlowEngine, clock: FakeClock) -> None:
    run = demo_engine.new_run(LEAD, clock=clock)
    await run.start()
    clock.advance(3)
    run.tag_customer_type("silent")
    assert run.tags == ["silent"]
    assert run.transcript[-1].label == "沉默的客户"
    assert run.transcript[-1].at == 3
    with pytest.raises(InvalidChoice):
        run.tag_customer_type("nonexistent")
    await run.hang_up("customer hung up")
    assert run.ended
    assert run.outcome is None
    assert run.transcript[-1].kind == "hangup"
    await run.close()


async def test_a_snapshot_restores_mid_call_on_a_fresh_machine(demo_engine: FlowEngine, clock: FakeClock) -> None:
    run = demo_engine.new_run(LEAD, clock=clock, call_id="call-0001")
    await run.start()
    clock.advance(4)
    await run.choose("是本人")
    await run.enter_objection("think_it_over")
    run.tag_customer_type("silent")
    before = run.step
    snapshot = json.loads(json.dumps(run.to_dict(), ensure_ascii=False))
    await run.close()
    assert "张三丰" not in json.dumps(snapshot, ensure_ascii=False)

    fresh = FlowRegistry([FIXTURES]).engine("demo-callback")  # another process, another machine
    assert fresh.machine is not demo_engine.machine
    clock.advance(30)
    again = await fresh.restore(snapshot, LEAD, clock=clock)
    assert again.call_id == "call-0001"
    assert again.step == before
    assert again.stack == ["purpose"]
    assert again.transcript[-1].kind == "restore"
    assert again.transcript[-1].at == 34
    step = await again.choose("愿意继续听")
    assert step is not None
    assert step.state == "purpose"
    await again.choose("方便")
    await again.choose("标准版")
    assert await again.choose("好的") is None
    assert again.outcome == "agreed"
    offsets = [e.at for e in again.transcript]
    assert offsets == sorted(offsets)
    await again.close()


async def test_a_snapshot_is_refused_by_another_version_or_a_changed_file(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD)
    await run.start()
    snapshot = run.to_dict()
    await run.close()
    with pytest.raises(FlowRunError, match="changed"):
        await demo_engine.restore({**snapshot, "digest": "0" * 64}, LEAD)
    with pytest.raises(FlowRunError, match="not demo-callback@1"):
        await demo_engine.restore({**snapshot, "version": 2}, LEAD)


async def test_hundreds_of_concurrent_calls_share_one_machine_without_crosstalk(demo_engine: FlowEngine) -> None:
    paths = {
        "agreed": ["是本人", "方便", "标准版", "好的"],
        "declined": ["是本人", "方便", "不需要"],
        "wrong_party": ["打错了"],
    }

    async def call(i: int) -> tuple[str, str | None]:
        expected = list(paths)[i % 3]
        run = demo_engine.new_run(LEAD, call_id=f"c{i}")
        await run.start()
        for label in paths[expected]:
            await asyncio.sleep(0)
            await run.choose(label)
        await run.close()
        return expected, run.outcome

    results = await asyncio.gather(*(call(i) for i in range(300)))
    assert all(expected == got for expected, got in results)
    assert len(demo_engine.machine.models) == 0


async def test_on_end_tells_each_listener_once_on_an_outcome_or_a_hang_up(demo_engine: FlowEngine) -> None:
    ended: list[str] = []
    run = demo_engine.new_run(LEAD, mask=mask)
    await run.start()
    run.on_end(lambda: ended.append("first"))
    run.on_end(lambda: ended.append("second"))
    await run.choose("是本人")
    assert ended == []
    for label in ("方便", "高级版", "好的"):
        await run.choose(label)
    assert ended == ["first", "second"]
    run.on_end(lambda: ended.append("late"))  # after the end: at once
    assert ended == ["first", "second", "late"]

    dropped = demo_engine.new_run(LEAD, mask=mask)
    await dropped.start()
    dropped.on_end(lambda: ended.append("hung up"))
    await dropped.hang_up("customer hung up")
    await dropped.hang_up("again")  # a second hang-up tells nobody again
    assert ended[-1] == "hung up"
    assert ended.count("hung up") == 1


async def test_a_run_leaves_the_shared_machine_when_its_call_ends(demo_engine: FlowEngine) -> None:
    before = len(demo_engine.machine.models)
    ended: list[str] = []
    run = demo_engine.new_run(LEAD, mask=mask)
    await run.start()
    run.on_end(lambda: ended.append("outcome"))
    assert run in demo_engine.machine.models
    for label in ("是本人", "方便", "标准版"):
        await run.choose(label)
    assert run in demo_engine.machine.models
    assert await run.choose("好的") is None
    assert run not in demo_engine.machine.models  # at the outcome, without close()
    assert len(demo_engine.machine.models) == before
    assert ended == ["outcome"]
    assert run.state == "__end__"
    assert run.to_dict()["outcome"] == "agreed"
    assert run.transcript[-1].kind == "outcome"
    await run.close()  # still fine, any number of times
    await run.close()

    dropped = demo_engine.new_run(LEAD)
    await dropped.start()
    dropped.on_end(lambda: ended.append("hangup"))
    await dropped.hang_up("customer hung up")
    assert dropped not in demo_engine.machine.models
    assert ended == ["outcome", "hangup"]
    await dropped.close()
    assert len(demo_engine.machine.models) == before


async def test_a_restored_ended_run_is_not_a_model_and_a_live_one_leaves_at_its_end(demo_engine: FlowEngine) -> None:
    run = demo_engine.new_run(LEAD)
    await run.start()
    await run.choose("打错了")
    done = await demo_engine.restore(json.loads(json.dumps(run.to_dict())), LEAD)
    assert done.ended
    assert done.outcome == "wrong_party"
    assert done not in demo_engine.machine.models
    await done.close()

    live = demo_engine.new_run(LEAD)
    await live.start()
    await live.choose("是本人")
    again = await demo_engine.restore(live.to_dict(), LEAD)
    await live.close()
    assert again in demo_engine.machine.models
    await again.choose("不方便")
    await again.choose("不愿再接电话")
    assert again not in demo_engine.machine.models


async def test_set_values_are_coerced_like_typed_values(tmp_path: Path) -> None:
    (tmp_path / "demo.v1.yaml").write_text(
        """\
id: demo
version: 1
title: 演示
brand: 示例公司
variables:
  plan_name: {label: 推荐的套餐, default: 标准版}
  people: {label: 人数, default: " 3 "}
start: greet
outcomes:
  agreed: {label: 同意, category: success}
states:
  greet:
    say: 您要哪一种？
    capture:
      - {name: plan, label: 套餐, type: choice, choices: [标准版, 高级版]}
      - {name: party, label: 人数, type: int, max: 5}
    options:
      - {label: 推荐的那种, outcome: agreed, set: {plan: "{plan_name}", party: "{people}"}}
""",
        encoding="utf-8",
    )
    engine = FlowRegistry([tmp_path]).engine("demo")
    run = engine.new_run({})
    await run.start()
    assert await run.choose(0) is None
    assert run.captured == {"plan": "标准版", "party": 3}  # the int field holds a number, as if typed

    bad = engine.new_run({"plan_name": "豪华版"})
    await bad.start()
    with pytest.raises(CaptureError) as err:
        await bad.choose(0)
    assert err.value.details["fields"] == {"plan": "expected one of 标准版, 高级版"}
    assert bad.captured == {}
    assert bad.state == "greet"  # nothing moved
