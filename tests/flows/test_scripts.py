"""The shipped scripts: complete coverage on the runtime, random walks end, the source's words kept."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import Flow, FlowEngine, FlowRegistry, FlowRun
from flows.coverage import coverage, plan_walks, run_walk, sample_value
from flows.schema import OutcomeCategory
from waihu.pii import mask

SCRIPTS = ("edu-survey-invite", "mobile-newspaper-trial")
SOURCE_OBJECTIONS = [
    "我要考虑一下",
    "太贵了",
    "这个号我很少用",
    "以后再说吧",
    "我用不了那么多流量",
    "我这里有wifi",
    "你骗人",
    "取消会很麻烦",
    "之前的遗留问题没有解决",
    "你又想让我多交钱",
    "你们太烦了，给我打这么多次电话",
]
SOURCE_CUSTOMER_TYPES = ["滔滔不绝", "沉默", "忙碌或性急", "从容不迫", "鸡蛋里挑骨头", "傲慢冷淡", "圆滑难缠"]
ROOT = Path(__file__).resolve().parents[2]


def all_text(flow: Flow) -> str:
    parts = []
    for state in flow.states.values():
        parts += [state.say, state.hint or "", *state.notes, *(o.label for o in state.options)]
    text = "\n".join(parts).replace("{brand}", flow.brand)
    for name, var in flow.variables.items():
        if var.default is not None:
            text = text.replace("{" + name + "}", var.default)
    return text


def test_the_shipped_files_check_clean(registry: FlowRegistry) -> None:
    paths = sorted((ROOT / "flows" / "scripts").glob("*.yaml"))
    assert len(paths) >= 3
    assert registry.check(paths) == []


@pytest.mark.parametrize("flow_id", SCRIPTS)
async def test_every_state_and_option_is_reached_on_the_runtime(registry: FlowRegistry, flow_id: str) -> None:
    engine = registry.engine(flow_id)
    walks = plan_walks(engine.flow)
    runs = [await run_walk(engine, walk) for walk in walks]
    cov = coverage(engine.flow, runs)
    assert cov.complete, f"not reached: states {sorted(cov.states_missing)}, options {sorted(cov.options_missing)}"
    assert cov.options_total == len(walks)
    assert all(run.ended and run.outcome in engine.flow.outcomes for run in runs)


def _random_walk_property(flow_id: str) -> None:
    engine = FlowRegistry().engine(flow_id)
    flow = engine.flow
    script_states = len(flow.script_states())
    longest_handler = max(
        (sum(1 for s in flow.states.values() if s.objection == o) for o in flow.objections), default=0
    )
    budget = 3
    bound = script_states + budget * (longest_handler + 1) + 1

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def walk(data: st.DataObject) -> None:
        async def play() -> FlowRun:
            run = engine.new_run({n: v.example or v.default or "" for n, v in flow.variables.items()})
            await run.start()
            objections_left = budget
            steps = 0
            while not run.ended:
                steps += 1
                assert steps <= bound, f"no outcome after {bound} steps: {[e.state for e in run.transcript]}"
                state = flow.states[run.state]
                can_object = objections_left > 0 and len(run.stack) < 3 and flow.objections
                if can_object and data.draw(st.integers(0, 4), label="object?") == 0:
                    opened = {flow.states[k].objection for k in run.stack} | {state.objection}
                    choices = [o for o in flow.objections if o not in opened]
                    if choices:
                        objections_left -= 1
                        await run.enter_objection(data.draw(st.sampled_from(choices), label="objection"))
                        continue
                if flow.customer_types and data.draw(st.integers(0, 9), label="tag?") == 0:
                    run.tag_customer_type(data.draw(st.sampled_from(sorted(flow.customer_types)), label="type"))
                option = data.draw(st.sampled_from(state.options), label=f"option@{state.key}")
                values = {f.name: sample_value(f) for f in state.capture if f.required}
                await run.choose(option.index, values)
            await run.close()
            return run

        run = asyncio.run(play())
        assert run.outcome in flow.outcomes
        assert run.stack == []
        assert run.transcript[-1].kind == "outcome"

    walk()


@pytest.mark.parametrize("flow_id", SCRIPTS)
def test_random_walks_always_end_in_an_outcome_within_a_bound(flow_id: str) -> None:
    _random_walk_property(flow_id)


def test_the_objection_library_has_the_eleven_cases_of_the_source(registry: FlowRegistry) -> None:
    flow = registry.get("mobile-newspaper-trial")
    labels = [info.label.replace(",", "，").replace("：", "") for info in flow.objections.values()]
    assert sorted(labels) == sorted(SOURCE_OBJECTIONS)
    principles = {info.principle for info in flow.objections.values()}
    assert {"问比说好", "故事大于道理", "太极胜过直拳"} <= principles


def test_too_many_calls_ends_with_do_not_call(registry: FlowRegistry) -> None:
    flow = registry.get("mobile-newspaper-trial")
    (oid,) = [o for o, info in flow.objections.items() if info.label.startswith("你们太烦了")]
    outcomes = {
        opt.target for st in flow.states.values() if st.objection == oid for opt in st.options if opt.kind == "outcome"
    }
    assert "do_not_call" in outcomes
    assert flow.outcomes["do_not_call"].category is OutcomeCategory.DO_NOT_CALL
    assert all(opt.kind != "return" for st in flow.states.values() if st.objection == oid for opt in st.options)


def test_the_seven_customer_types_each_have_a_tip(registry: FlowRegistry) -> None:
    flow = registry.get("edu-survey-invite")
    labels = [t.label for t in flow.customer_types.values()]
    assert len(labels) == 7
    for name in SOURCE_CUSTOMER_TYPES:
        assert any(name in label for label in labels), name
    assert all(t.tip for t in flow.customer_types.values())


@pytest.mark.parametrize("flow_id", SCRIPTS)
def test_the_golden_opening_is_bound_to_states(registry: FlowRegistry, flow_id: str) -> None:
    flow = registry.get(flow_id)
    assert sorted(cp.within for cp in flow.checkpoints) == [15, 45, 90]


def test_edu_script_keeps_the_source_words(registry: FlowRegistry) -> None:
    text = all_text(registry.get("edu-survey-invite"))
    for phrase in [
        "赣州新概念教育",
        "我们正在做一个有关中小学生学习情况的调查",
        "请问家长您现在说话方便么",
        "注意力不集中",
        "粗心马虎",
        "厌学",
        "偏科",
        "考试忧虑",
        "他最近的这次考试怎么样呢",
        "只要适当的疏导、沟通就可以有明显的改善",
        "营养不良",
        "给孩子一个安静的学习环境",
        "经常鼓励他，关心他",
        "免费做一个测评",
        "那您什么时间段比较方便呢？我再给你回个电话",
        "请问您的孩子平时成绩如何，是好、一般还是较差呢",
        "英语培训班",
        "记忆法体验课",
        "语气镇定，语速平缓",
    ]:
        assert phrase in text, phrase


def test_mobile_script_keeps_the_source_words(registry: FlowRegistry) -> None:
    flow = registry.get("mobile-newspaper-trial")
    text = all_text(flow)
    for phrase in [
        "感谢您接听我们的免费电话",
        "免费体验一个月的手机报业务",
        "生活、娱乐、体育、新闻、财经",
        "它是通过彩信方式为您发送",
        "10086",
        "掌握生活",
        "抱歉打扰您了，以后有适合您的活动再向您介绍",
    ]:
        assert phrase in text, phrase
    assert flow.variables["column_news"].default == "内蒙古新华手机报"
    assert flow.outcomes["trial_opened"].category is OutcomeCategory.SUCCESS


async def test_the_subscriber_check_shows_the_number_masked(registry: FlowRegistry) -> None:
    engine: FlowEngine = registry.engine("mobile-newspaper-trial")
    run = engine.new_run({"phone": "13912345678"}, mask=mask)
    step = await run.start()
    assert "139****5678" in step.text
    assert "13912345678" not in step.text
    await run.close()


def test_rehearse_fed_on_stdin_reaches_trial_opened() -> None:
    waihu = Path(sys.executable).parent / "waihu"
    proc = subprocess.run(
        [str(waihu), "flows", "rehearse", "mobile-newspaper-trial"],
        input="1\n" * 12,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "trial_opened" in proc.stdout
    assert "13812345678" not in proc.stdout
