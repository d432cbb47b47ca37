"""``waihu flows …``: check, list, show (Mermaid) and rehearse scripts in the terminal.

The ``waihu`` entry point loads this group lazily and passes its PII masker in ``ctx.obj["mask"]``
(flows imports nothing of ours).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click
from rich.console import Console
from rich.table import Table

from flows.coverage import coverage, plan_walks, run_walk, sample_value
from flows.diagram import mermaid
from flows.errors import FlowError, FlowRunError
from flows.model import FlowOption
from flows.registry import PACKAGE_SCRIPTS, FlowRegistry, expand_paths, parse_ref, read_file
from flows.runtime import FlowEngine, FlowRun, Masker, StepView, mask_fully
from flows.schema import FlowDoc


def _registry(ctx: click.Context) -> FlowRegistry:
    extra = (ctx.obj or {}).get("flows_dirs", ())
    dirs = extra() if callable(extra) else extra
    return FlowRegistry([PACKAGE_SCRIPTS, *map(Path, dirs)])


def _masker(ctx: click.Context) -> Masker:
    mask: Masker = (ctx.obj or {}).get("mask", mask_fully)
    return mask


@click.group(help="Call scripts: check, list, show and rehearse.")
def flows() -> None:
    pass


@flows.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--walk", is_flag=True, help="Also play one walk per option on the runtime and report coverage.")
@click.pass_context
def check(ctx: click.Context, paths: tuple[Path, ...], walk: bool) -> None:
    """Validate script files (a directory: every *.yaml in it); print file:line:column for each
    problem; exit 1 on any error."""
    registry = _registry(ctx)
    files, empty = expand_paths(paths)
    # check() gets the files expanded here, so the problems of directories without scripts come from here
    problems = list(dict.fromkeys([*empty, *registry.check(files)]))
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        click.echo(str(p), err=p.severity == "error")
    warnings = len(problems) - len(errors)
    summary = f"{len(files)} file(s): {len(errors)} error(s), {warnings} warning(s)"
    click.echo(summary, err=bool(errors))
    if errors:
        sys.exit(1)
    if walk and not _walk_all(registry, tuple(files)):
        sys.exit(1)


def _walk_all(registry: FlowRegistry, paths: tuple[Path, ...]) -> bool:
    """Every option of every script taken on the real runtime; False if any was not reached."""
    complete = True
    for path in paths:
        loaded = read_file(Path(path))
        if not isinstance(loaded.doc, FlowDoc):
            continue
        engine = FlowEngine(registry.load_path(Path(path)))
        runs = asyncio.run(_play_walks(engine))
        cov = coverage(engine.flow, runs)
        click.echo(
            f"{engine.flow.ref}: {len(runs)} walks, "
            f"{cov.states_total - len(cov.states_missing)}/{cov.states_total} states, "
            f"{cov.options_total - len(cov.options_missing)}/{cov.options_total} options reached"
        )
        for state, label in sorted(cov.options_missing):
            click.echo(f"  not reached: {state} → {label}", err=True)
        complete = complete and cov.complete
    return complete


async def _play_walks(engine: FlowEngine) -> list[FlowRun]:
    return [await run_walk(engine, w) for w in plan_walks(engine.flow)]


@flows.command("list")
@click.pass_context
def list_flows(ctx: click.Context) -> None:
    """Every script and library version found, with its title."""
    for loaded in _registry(ctx).catalogue():
        doc = loaded.doc
        if doc is None:
            click.echo(f"{loaded.path.name}: does not load (run `waihu flows check`)")
            continue
        click.echo(f"{doc.id}@{doc.version}\t{doc.kind}\t{doc.title}")


@flows.command("show")
@click.argument("ref")
@click.option("--no-objections", is_flag=True, help="Leave the objection handlers out.")
@click.pass_context
def show(ctx: click.Context, ref: str, no_objections: bool) -> None:
    """Print the Mermaid state diagram of ID[@VERSION]."""
    try:
        flow = _registry(ctx).get_ref(ref)
    except FlowError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(mermaid(flow, objections=not no_objections), nl=False)


@flows.command("rehearse")
@click.argument("ref")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="A variable's value.")
@click.pass_context
def rehearse(ctx: click.Context, ref: str, variables: tuple[str, ...]) -> None:
    """Walk through ID[@VERSION] as a trainee: read the text, pick the customer's answer.

    Type an option's number; `o` lists the objection handlers (`o 2` opens the second), `t` the
    customer types (`t 3` tags the third), `q` quits. After a choice, each required capture field
    the button does not fill is asked for; optional fields are skipped (listed on the screen). Works
    with piped standard input; exit status 0 only when the call reached its end.
    """
    registry = _registry(ctx)
    try:
        flow_id, version = parse_ref(ref)
        engine = registry.engine(flow_id, version)
    except FlowError as exc:
        raise click.ClickException(str(exc)) from None
    values = {name: v.example or v.default or "" for name, v in engine.flow.variables.items()}
    for item in variables:
        name, sep, value = item.partition("=")
        if not sep or name not in engine.flow.variables:
            raise click.BadParameter(
                f"{item!r}: expected NAME=VALUE with NAME one of {', '.join(engine.flow.variables)}"
            )
        values[name] = value
    run = engine.new_run(values, mask=_masker(ctx))
    stdin = sys.stdin
    code = asyncio.run(Rehearsal(run, stdin, lambda text: click.echo(text)).play())
    sys.exit(code)


class Rehearsal:
    """The terminal walk-through; separate from click so tests can drive it."""

    def __init__(self, run: FlowRun, stdin: TextIO, echo: Callable[[str], Any]) -> None:
        self.run = run
        self.stdin = stdin
        self.echo = echo

    def _read(self, prompt: str) -> str | None:
        self.echo(prompt)
        line = self.stdin.readline()
        if not line:
            return None
        return line.strip()

    def _show(self, step: StepView) -> None:
        flow = self.run.flow
        head = f"【{step.title}】" + (f"  (异议处理：{step.objection_label})" if step.objection_label else "")
        self.echo("")
        self.echo(head)
        self.echo(f"  说：{step.text}")
        if step.hint:
            self.echo(f"  提示：{step.hint}")
        for note in step.notes:
            self.echo(f"    · {note}")
        if step.timer_cue:
            self.echo(f"  （{step.timer_after} 秒后：{step.timer_cue}）")
        required = [f.label for f in step.capture if f.required]
        optional = [f.label for f in step.capture if not f.required]
        if required:
            self.echo(f"  记录（必填，选择后询问）：{'、'.join(required)}")
        if optional:
            self.echo(f"  记录（可选，排练中略过）：{'、'.join(optional)}")
        for opt in step.options:
            end = f" → 结束：{flow.outcomes[o].label}" if (o := self._outcome_of(step, opt.index)) else ""
            self.echo(f"  {opt.index + 1}. {opt.label}{end}")
        extras = []
        if flow.objections:
            extras.append("o 异议处理")
        if flow.customer_types:
            extras.append("t 客户类型")
        extras.append("q 退出")
        self.echo("  " + "  ".join(extras))

    def _outcome_of(self, step: StepView, index: int) -> str | None:
        opt = self.run.flow.states[step.state].options[index]
        return opt.target if opt.kind == "outcome" else None

    def _listing(self, title: str, items: list[tuple[str, str]]) -> None:
        self.echo(title)
        for i, (_, label) in enumerate(items, 1):
            self.echo(f"  {i}. {label}")

    async def _capture(self, step: StepView, option: FlowOption) -> dict[str, str] | None:
        """Ask for the fields this answer must record: the required ones its button does not fill.

        Optional fields are never asked (they are listed on the screen as skipped), so a piped
        list of choices is never read as a recorded value."""
        values: dict[str, str] = {}
        if option.skip_capture:
            return values
        for field in step.capture:
            if field.name in option.set or not field.required:
                continue
            extra = f"，可选：{'/'.join(field.choices)}" if field.choices else ""
            answer = self._read(f"  记录 {field.label}（{field.type.value}，必填{extra}）：")
            if answer is None:
                return None
            if answer:
                values[field.name] = answer
        return values

    async def play(self) -> int:
        run = self.run
        flow = run.flow
        self.echo(f"{flow.title}（{flow.ref}，{flow.brand}）")
        step = await run.start()
        try:
            while True:
                self._show(step)
                answer = self._read("选择：")
                if answer is None:
                    self.echo("输入已结束，通话尚未结束 (input ended before the call did)")
                    return 1
                if answer == "q":
                    self.echo("已退出")
                    return 1
                if answer.startswith("o"):
                    step = await self._objection(answer[1:].strip(), step)
                    continue
                if answer.startswith("t"):
                    self._tag(answer[1:].strip())
                    continue
                if not answer.isdigit() or not 1 <= int(answer) <= len(step.options):
                    self.echo(f"请输入 1 到 {len(step.options)} 之间的数字")
                    continue
                index = int(answer) - 1
                opt = flow.states[step.state].options[index]
                values = await self._capture(step, opt)
                if values is None:
                    self.echo("输入已结束，通话尚未结束 (input ended before the call did)")
                    return 1
                try:
                    nxt = await run.choose(index, values)
                except FlowRunError as exc:
                    self.echo(f"  ✗ {exc.message}")
                    continue
                if nxt is None:
                    self._finish()
                    return 0
                step = nxt
        finally:
            await run.close()

    async def _objection(self, arg: str, step: StepView) -> StepView:
        items = [(oid, info.label) for oid, info in self.run.flow.objections.items()]
        if not arg:
            self._listing("异议处理（输入 o 编号）：", items)
            return step
        if not arg.isdigit() or not 1 <= int(arg) <= len(items):
            self.echo("没有这个异议处理编号")
            return step
        try:
            return await self.run.enter_objection(items[int(arg) - 1][0])
        except FlowRunError as exc:
            self.echo(f"  ✗ {exc.message}")
            return step

    def _tag(self, arg: str) -> None:
        items = [(code, f"{t.label}：{t.tip}") for code, t in self.run.flow.customer_types.items()]
        if not arg:
            self._listing("客户类型（输入 t 编号）：", items)
            return
        if not arg.isdigit() or not 1 <= int(arg) <= len(items):
            self.echo("没有这个客户类型编号")
            return
        code = items[int(arg) - 1][0]
        self.run.tag_customer_type(code)
        self.echo(f"  已标记：{self.run.flow.customer_types[code].label}")

    def _finish(self) -> None:
        run = self.run
        outcome = run.flow.outcomes[run.outcome] if run.outcome else None
        self.echo("")
        if outcome:
            self.echo(f"通话结束：{outcome.label}（{run.outcome}，{outcome.category.value}）")
        for cp in run.checkpoints():
            mark = {"met": "✓", "late": "!", "missed": "✗", "pending": "…"}[cp.status]
            at = f"{cp.reached_at:.1f}s" if cp.reached_at is not None else "—"
            self.echo(f"  {mark} {cp.label}（{cp.within}s 内，实际 {at}）")
        if run.captured:
            self.echo("  记录：" + "，".join(f"{k}={run.render('{' + k + '}')}" for k in run.captured))


class _StepClock:
    """A simulated clock for the demo: each screen takes a few seconds of talk."""

    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


async def _demo_call(engine: FlowEngine, console: Console, mask: Masker) -> FlowRun:
    """One simulated call: the customer takes the first answer everywhere, raises one objection
    after the second screen and the agent tags a customer type; every screen is printed."""
    flow = engine.flow
    clock = _StepClock()
    values = {name: v.example or v.default or "" for name, v in flow.variables.items()}
    run = engine.new_run(values, clock=clock, mask=mask, call_id=f"demo-{flow.id}")
    step: StepView | None = await run.start()
    objection_done = False
    screens = 0
    while step is not None:
        screens += 1
        tag = f"  [dim](异议处理：{step.objection_label})[/dim]" if step.objection_label else ""
        console.print(f"[bold cyan]{run.now():5.0f}s[/bold cyan] [bold]【{step.title}】[/bold]{tag}")
        console.print(f"       坐席：{step.text}")
        if step.hint:
            console.print(f"       [dim]提示：{step.hint}[/dim]")
        clock.advance(6)
        if screens == 1 and flow.customer_types:
            code = next(iter(flow.customer_types))
            run.tag_customer_type(code)
            console.print(f"       [magenta]标记客户类型：{flow.customer_types[code].label}[/magenta]")
        if screens == 2 and flow.objections and not objection_done:
            objection_done = True
            info = next(iter(flow.objections.values()))
            console.print(f"       [yellow]客户：{info.label}[/yellow]")
            step = await run.enter_objection(info.id)
            continue
        state = flow.states[step.state]
        option = next((o for o in state.options if o.kind == "return"), state.options[0])
        console.print(f"       [green]客户：{option.label}[/green]")
        captured = {f.name: sample_value(f) for f in state.capture if f.required}
        step = await run.choose(option.index, captured)
    await run.close()
    return run


@flows.command("demo", help="One simulated call through each shipped script, every screen printed.")
@click.pass_context
def demo(ctx: click.Context) -> None:
    console = Console()
    registry = _registry(ctx)
    for flow_id in ("edu-survey-invite", "mobile-newspaper-trial"):
        engine = registry.engine(flow_id)
        flow = engine.flow
        console.rule(f"{flow.title} · {flow.ref} · {flow.brand}")
        run = asyncio.run(_demo_call(engine, console, _masker(ctx)))
        outcome = flow.outcomes[run.outcome] if run.outcome else None
        table = Table(title="通话结果", show_header=False)
        table.add_row("结果", f"{outcome.label}（{run.outcome}）" if outcome else "未完成")
        table.add_row("步骤", str(sum(1 for e in run.transcript if e.kind == "choose")))
        table.add_row("时长", f"{run.now():.0f} 秒")
        for cp in run.checkpoints():
            table.add_row(cp.label, f"{cp.status}（{cp.reached_at:.0f}s）" if cp.reached_at is not None else cp.status)
        console.print(table)
