"""Finding, loading and checking script files.

A registry looks at one or more directories of ``*.yaml`` files (the package's own
``flows/scripts/`` first). ``get(id, version)`` returns a compiled, validated :class:`Flow`;
``check(paths)`` reports every problem of the given files without stopping at the first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from flows.errors import FlowFileError, FlowNotFound, Problem
from flows.model import Flow, compile_flow
from flows.runtime import FlowEngine
from flows.schema import FlowDoc, LibraryDoc
from flows.validate import check_library, check_script, pydantic_problems
from flows.yamlmarks import Marked, load_marked

PACKAGE_SCRIPTS = Path(__file__).resolve().parent / "scripts"
#: the largest script file read (the shipped scripts are under 20 KB)
MAX_FILE_BYTES = 256 * 1024


@dataclass
class LoadedFile:
    path: Path
    digest: str
    marked: Marked | None = None
    doc: FlowDoc | LibraryDoc | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.doc is not None and not any(p.severity == "error" for p in self.problems)


def read_file(path: Path) -> LoadedFile:
    """Parse and shape-check one file (a script or a library); cross-checks come later."""
    name = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return LoadedFile(path, "", problems=[Problem(name, 1, 1, f"cannot read the file: {exc.strerror}")])
    if len(raw) > MAX_FILE_BYTES:  # parsing YAML in Python takes seconds per megabyte: refuse before
        return LoadedFile(
            path,
            "",
            problems=[
                Problem(
                    name,
                    1,
                    1,
                    f"the file is larger than {MAX_FILE_BYTES // 1024} KB; a script needs far less",
                    "check that this is a script file (the shipped scripts are under 20 KB)",
                )
            ],
        )
    loaded = LoadedFile(path, hashlib.sha256(raw).hexdigest())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        loaded.problems.append(Problem(name, line, 1, "the file is not UTF-8", "save it as UTF-8"))
        return loaded
    marked, problems = load_marked(text, name)
    loaded.marked = marked
    loaded.problems += problems
    if marked is None or problems:
        return loaded
    if not isinstance(marked.data, dict):
        loaded.problems.append(marked.problem((), "a script file must be a mapping (`id: …`, `states: …`)"))
        return loaded
    kind = marked.data.get("kind", "script")
    model: type[FlowDoc] | type[LibraryDoc] = LibraryDoc if kind == "objections" else FlowDoc
    try:
        doc = model.model_validate(marked.data)
    except ValidationError as exc:
        loaded.problems += pydantic_problems(marked, exc)
        return loaded
    loaded.doc = doc
    expected = f"{doc.id}.v{doc.version}.yaml"
    if path.name != expected:
        loaded.problems.append(
            marked.problem(
                ("id",),
                f"file name `{path.name}` does not match id and version",
                f"name it {expected}",
                warning=True,
            )
        )
    if isinstance(doc, LibraryDoc):
        loaded.problems += check_library(marked, doc)
    return loaded


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """The files to check: a directory becomes its ``*.yaml`` files (sorted); one without any is a problem."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.glob("*.yaml") if p.is_file())
            if not found:
                problems.append(
                    Problem(str(path), 1, 1, "the directory has no *.yaml files", "name script files `<id>.v<N>.yaml`")
                )
            files += found
        else:
            files.append(path)
    return list(dict.fromkeys(files)), problems


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``edu-survey-invite@2`` -> (id, 2); ``edu-survey-invite`` -> (id, None)."""
    flow_id, _, version = ref.partition("@")
    if not version:
        return flow_id, None
    if not version.isdigit():
        raise FlowNotFound(f"bad version in `{ref}`: write ID@N, e.g. {flow_id}@1", {"ref": ref})
    return flow_id, int(version)


class FlowRegistry:
    """Scripts and libraries found in directories; compiled flows are cached (versions are immutable)."""

    def __init__(self, dirs: Sequence[Path] = (PACKAGE_SCRIPTS,)) -> None:
        self.dirs = [Path(d) for d in dirs]
        self._files: dict[Path, LoadedFile] = {}
        self._flows: dict[tuple[str, int], Flow] = {}
        self._engines: dict[tuple[str, int], FlowEngine] = {}

    def _load(self, path: Path) -> LoadedFile:
        path = path.resolve()
        if path not in self._files:
            self._files[path] = read_file(path)
        return self._files[path]

    def _scan(self, dirs: Iterable[Path]) -> list[LoadedFile]:
        out = []
        for d in dirs:
            for path in sorted(Path(d).glob("*.yaml")):
                out.append(self._load(path))
        return out

    def catalogue(self) -> list[LoadedFile]:
        """Every file in the registry's directories, loaded (with problems, if any)."""
        return self._scan(self.dirs)

    def _find(
        self,
        kind: type[FlowDoc] | type[LibraryDoc],
        flow_id: str,
        version: int | None,
        extra_dirs: Iterable[Path] = (),
    ) -> LoadedFile:
        matches = [
            f
            for f in self._scan([*extra_dirs, *self.dirs])
            if isinstance(f.doc, kind) and f.doc.id == flow_id and (version is None or f.doc.version == version)
        ]
        if not matches:
            broken = [f for f in self._scan([*extra_dirs, *self.dirs]) if f.doc is None]
            named = [f for f in broken if f.path.name.startswith(f"{flow_id}.v")]
            if named:  # the file is there but does not load: say why rather than "not found"
                raise FlowFileError([p for f in named for p in f.problems])
            known = sorted({f"{f.doc.id}@{f.doc.version}" for f in self.catalogue() if isinstance(f.doc, kind)})
            what = f"{flow_id}@{version}" if version else flow_id
            raise FlowNotFound(
                f"no script `{what}` in {', '.join(map(str, self.dirs))}; known: {', '.join(known) or 'none'}",
                {"ref": what, "known": known},
            )
        return max(matches, key=lambda f: f.doc.version if f.doc else 0)

    def get(self, flow_id: str, version: int | None = None) -> Flow:
        """The compiled script ``flow_id`` at ``version`` (the newest if None)."""
        if version is not None and (flow_id, version) in self._flows:
            return self._flows[(flow_id, version)]
        loaded = self._find(FlowDoc, flow_id, version)
        flow = self._compile(loaded)
        self._flows[(flow.id, flow.version)] = flow
        return flow

    def get_ref(self, ref: str) -> Flow:
        return self.get(*parse_ref(ref))

    def engine(self, flow_id: str, version: int | None = None) -> FlowEngine:
        """The shared runtime of a version (one state machine for all its calls)."""
        flow = self.get(flow_id, version)
        key = (flow.id, flow.version)
        if key not in self._engines:
            self._engines[key] = FlowEngine(flow)
        return self._engines[key]

    def _library_for(self, loaded: LoadedFile) -> LoadedFile | None:
        doc = loaded.doc
        if not isinstance(doc, FlowDoc) or doc.objections is None:
            return None
        lib_id, lib_version = parse_ref(doc.objections.library)
        try:
            return self._find(LibraryDoc, lib_id, lib_version, extra_dirs=[loaded.path.parent])
        except FlowNotFound:
            return None

    def _cross_check(self, loaded: LoadedFile) -> tuple[list[Problem], LoadedFile | None]:
        assert isinstance(loaded.doc, FlowDoc)
        assert loaded.marked is not None
        lib = self._library_for(loaded)
        problems = list(loaded.problems)
        if lib is not None and not lib.ok:
            problems += [p for p in lib.problems if p.severity == "error"]
            return problems, None
        pair = (lib.marked, lib.doc) if lib and lib.marked and isinstance(lib.doc, LibraryDoc) else None
        problems += check_script(loaded.marked, loaded.doc, pair)
        return problems, lib

    def _compile(self, loaded: LoadedFile) -> Flow:
        if not loaded.ok:
            raise FlowFileError(loaded.problems)
        problems, lib = self._cross_check(loaded)
        if any(p.severity == "error" for p in problems):
            raise FlowFileError(problems)
        assert isinstance(loaded.doc, FlowDoc)
        lib_doc = lib.doc if lib is not None and isinstance(lib.doc, LibraryDoc) else None
        digest = hashlib.sha256((loaded.digest + (lib.digest if lib else "")).encode()).hexdigest()
        return compile_flow(loaded.doc, lib_doc, digest)

    def check(self, paths: Iterable[Path]) -> list[Problem]:
        """Every problem (errors and warnings) of the given files, in file order.

        A directory stands for every ``*.yaml`` file in it (not its subdirectories)."""
        problems: list[Problem] = []
        files, empty = expand_paths(paths)
        problems += empty
        for path in files:
            loaded = self._load(Path(path))
            if not loaded.ok or not isinstance(loaded.doc, FlowDoc):
                problems += loaded.problems
                continue
            found, _ = self._cross_check(loaded)
            problems += found
        return list(dict.fromkeys(problems))  # a library's problems show once, however many scripts use it

    def load_path(self, path: Path) -> Flow:
        """Compile a script given by path (for files outside the registry's directories)."""
        loaded = self._load(Path(path))
        if loaded.ok and not isinstance(loaded.doc, FlowDoc):
            raise FlowFileError([Problem(str(path), 1, 1, "this is an objection library, not a script")])
        return self._compile(loaded)
