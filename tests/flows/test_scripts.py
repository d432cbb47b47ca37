"""The shipped scripts: complete coverage on the runtime, random walks end, the source's words kept."""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import Flow, FlowEngine, FlowRegistry, FlowRun
from flows.coverage import coverage, plan_walks, run_walk, sample_value
from flows.schema import PLACEHOLDER, OutcomeCategory
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


def rehearse(stdin: str, flow_id: str = "mobile-newspaper-trial") -> subprocess.CompletedProcess[str]:
    """The real console script, fed through a pipe (exit status included)."""
    waihu = Path(sys.executable).parent / "waihu"
    return subprocess.run(
        [str(waihu), "flows", "rehearse", flow_id],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_rehearse_fed_on_stdin_reaches_trial_opened() -> None:
    proc = rehearse("1\n" * 12)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "trial_opened" in proc.stdout
    assert "13812345678" not in proc.stdout


# Piped walks of both scripts (the README's example first): one line per choice, plus one per
# required field the button does not fill. Optional fields are never asked, so none eats a choice.
PIPED_WALKS = [
    ("mobile-newspaper-trial", "1\n1\n1\n1\n", "trial_opened"),  # README: 是的 → 生活 → 好的 → 好的
    ("mobile-newspaper-trial", "1\n4\n1\n1\n", "trial_opened"),  # 新闻 → Q1
    ("mobile-newspaper-trial", "1\n6\n1\n1\n", "trial_opened"),  # 不同意/犹豫 → Q2 → 好的 → 好的
    ("mobile-newspaper-trial", "1\n6\n2\n1\n", "refused"),  # Q2 不同意 → 致歉道别
    ("mobile-newspaper-trial", "1\n2\n2\n2\n1\n", "refused"),  # Q1 犹豫 → Q2 不同意
    ("mobile-newspaper-trial", "1\n3\n1\n2\n1\n", "refused"),  # confirmed, then changed mind
    ("mobile-newspaper-trial", "2\n", "wrong_party"),
    ("edu-survey-invite", "5\n", "wrong_party"),
    ("edu-survey-invite", "4\n2\n", "wrong_party"),
    ("edu-survey-invite", "4\n1\n1\n3\n1\n2026-11-28 19:30\n", "callback"),  # child, parents out
    ("edu-survey-invite", "4\n1\n1\n1\n1\n2\n2\n", "refused"),  # child hands over, not convenient
    ("edu-survey-invite", "1\n1\n2\n1\n2026-11-28 19:30\n", "callback"),
    # 方便 → 小学 (school, grade) → 有 → 注意力 → 学习环境 → 认同 → 在听 → 有意向 → 测评时间
    ("edu-survey-invite", "2\n1\n1\n1\n实验小学\n四年级\n1\n1\n1\n1\n1\n1\n1\n2026-12-01 10:00\n", "assessment_booked"),
    # 初中或高中 → 有 → 厌学 → … → 暂不需要
    ("edu-survey-invite", "3\n1\n1\n2\n一中\n初二\n1\n2\n1\n1\n1\n1\n1\n2\n", "refused"),
    ("edu-survey-invite", "1\n1\n1\n1\n实验小学\n四年级\n2\n1\n1\n1\n1\n2026-12-02 10:00\n", "trial_class_booked"),
    ("edu-survey-invite", "1\n1\n1\n1\n实验小学\n四年级\n3\n1\n1\n2\n", "refused"),  # 说不清 → exam → help
    ("edu-survey-invite", "1\n1\n1\n1\n实验小学\n四年级\n2\n3\n2\n1\n2\n", "refused"),
]


@pytest.mark.parametrize(("flow_id", "stdin", "outcome"), PIPED_WALKS)
def test_piped_walks_of_both_scripts_reach_their_outcome(flow_id: str, stdin: str, outcome: str) -> None:
    proc = rehearse(stdin, flow_id)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"（{outcome}，" in proc.stdout, proc.stdout


@pytest.mark.parametrize("stdin", ["", "1\n", "1\n6\n", "1\n4\n1\n"])
def test_rehearse_exits_non_zero_when_input_ends_before_the_call(stdin: str) -> None:
    proc = rehearse(stdin)
    assert proc.returncode == 1, proc.stdout
    assert "输入已结束，通话尚未结束" in proc.stdout
    assert "通话结束：" not in proc.stdout


# -- the source's words, word for word ---------------------------------------------------------------
#
# tests/flows/fixtures/seed-scripts.txt is copied verbatim from the source material
# (shared/seed/000_74b40547bb2696e7.txt: 第二篇 to 第四篇, and the case and customer-type lists of
# 第五篇). Every literal fragment of every `say` (the text between placeholders) must be found in it.
# Allowed, and nothing else: ASCII punctuation written full-width (the source mixes both); a line
# break or space of the source written as nothing, "，" or "。"; the source's stage directions in
# brackets (语速放慢) and the customer's lines (——用户:好的) left out of what the agent says.

SEED = (Path(__file__).parent / "fixtures" / "seed-scripts.txt").read_text(encoding="utf-8")
FULL_WIDTH = str.maketrans({",": "，", "!": "！", "?": "？", ":": "：", ";": "；", "(": "（", ")": "）"})
#: The source gives one sentence with alternatives for two grade stages; each script state says one.
SOURCE_ALTERNATIVES = {
    "problems_primary": "那他有没有注意力不集中、粗心马虎的问题呢?",
    "problems_senior": "那他有没有厌学,偏科,考试忧虑的问题呢?",
}
#: States whose words the source does not give (it only says what happens there): a screen is
#: still needed. Each is listed here on purpose, so no other state can drift from the source.
SOURCE_SILENT = {
    "edu-survey-invite": {
        "ask_parent": "the source has no words for asking the child to fetch a parent",
        "student_callback": "not_convenient's words, addressed to the child",
        "good_grades": "the source only advises what to do when the parent answers 好",
        "assessment_time": "the source ends the offer at ……; the appointment still has to be asked",
        "memory_class_time": "the source ends the invitation; the appointment still has to be asked",
    },
    "mobile-newspaper-trial": {},
}


def _seed_variants() -> list[str]:
    text = re.sub(r"\s+", "\n", SEED.translate(FULL_WIDTH))
    without_customer = re.sub(r"\n*——用户：[^\n]*\n*", "\n", text)
    without_directions = re.sub(r"（[^（）\n]{1,30}）", "", without_customer)
    extra = "\n".join(s.translate(FULL_WIDTH) for s in SOURCE_ALTERNATIVES.values())
    return [text, without_customer, without_directions, extra]


def _fragment_pattern(fragment: str) -> re.Pattern[str]:
    parts = []
    for ch in fragment.translate(FULL_WIDTH):
        if ch == "，":
            parts.append("(?:，|\n)")
        elif ch == "。":
            parts.append("(?:。|\n)")
        else:
            parts.append(re.escape(ch))
    return re.compile("\n?".join(parts))


def _literal_fragments(text: str) -> list[str]:
    return [f for f in PLACEHOLDER.split(text)[::2] if f]  # split() alternates text, name, text…


@pytest.mark.parametrize("flow_id", SCRIPTS)
def test_every_say_of_the_newest_version_is_the_source_word_for_word(registry: FlowRegistry, flow_id: str) -> None:
    flow = registry.get(flow_id)
    seeds = _seed_variants()
    silent = SOURCE_SILENT[flow_id]
    assert set(silent) <= set(flow.states), "SOURCE_SILENT names a state the script no longer has"
    off: list[str] = []
    for state in flow.script_states():
        if state.key in silent:
            continue
        for fragment in _literal_fragments(state.say):
            if not any(_fragment_pattern(fragment).search(seed) for seed in seeds):
                off.append(f"{state.key}: {fragment}")
    assert off == [], "not in the source:\n" + "\n".join(off)


def test_the_fragment_check_catches_the_deviations_the_audit_found() -> None:
    seeds = _seed_variants()

    def found(fragment: str) -> bool:
        return any(_fragment_pattern(fragment).search(seed) for seed in seeds)

    assert found("有时候厌学只是暂时的情绪。家长要注意引导孩子。")
    assert not found("有时候厌学只是暂时的情绪，家长要注意引导孩子。")  # "。" turned into "，"
    assert found("比如：是周围环境的影响")
    assert not found("比如是周围环境的影响")  # the colon dropped
    assert found("是不是从小就会有一般玩，一边做作业")
    assert not found("是不是从小就会有一边玩，一边做作业")  # the source's typo "fixed"
    assert not found("也可能是周围的学习环境")  # words added
    assert found("我们这里现在有生活、娱乐、体育、新闻、财经五大类手机报")  # (语速放慢) is a direction
    assert found("在使用过程中有问题可随时致电10086，好吗？感谢您的支持")  # the customer's 好的 between


def test_the_source_typos_are_kept_as_spoken_and_noted(registry: FlowRegistry) -> None:
    edu = registry.get("edu-survey-invite")
    assert "一般玩，一边做作业" in edu.states["attention_causes"].say
    assert any("一般玩" in note and "一边玩" in note for note in edu.states["attention_causes"].notes)
    mobile = registry.get("mobile-newspaper-trial")
    assert "及时的了生活方面的信息" in mobile.states["q2_recommend"].say
    assert any("了解" in note for note in mobile.states["q2_recommend"].notes)


def test_the_confirmation_names_what_the_source_xxx_stands_for(registry: FlowRegistry) -> None:
    # The source: "——用户:XXX(例:新闻)接Q1" … "您已同意开通“XXX”手机报": XXX is the customer's
    # answer, the category (开通“新闻”手机报); the column is named on the Q1 screen before it.
    flow = registry.get("mobile-newspaper-trial")
    assert "您已同意开通“{category}”手机报" in flow.states["confirm_column"].say
    assert "“{category}”方面有“{column}”栏目" in flow.states["q1_column"].say


#: Published versions never change (campaigns pin them by digest; a changed file stops them):
#: change a script by adding the next version.
PUBLISHED = {
    "edu-survey-invite.v1.yaml": "79f56090f3237f06f6d49ab9a7e57fb49c6c1ccb5d2a7b6894e23012b53ac532",
    "mobile-newspaper-trial.v1.yaml": "36f2fb4fe955cd1e0f43622cea98a925a4712d529f09abef1e3828a50e9a039c",
    "objections.v1.yaml": "9cbd2b9427f0e3dc762daae5960e6ba092c4cf18a03c2f4a44b07b7ad73a57a6",
}


@pytest.mark.parametrize(("name", "digest"), sorted(PUBLISHED.items()))
def test_published_versions_are_unchanged(name: str, digest: str) -> None:
    assert hashlib.sha256((ROOT / "flows" / "scripts" / name).read_bytes()).hexdigest() == digest
