"""The package's shape (README "Code map"): modules of a few hundred lines, no import circle,
and the core never importing the adapters (TFX, KFP, ML Metadata)."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "component" / "assay"
MAX_LINES = 450
CORE = ("assay.config", "assay.data", "assay.models", "assay.metrics", "assay.engine",
        "assay.validation", "assay.results", "assay.report", "assay.errors")
ADAPTERS = ("tfx", "kfp", "ml_metadata", "assay.tfx", "assay.kfp", "assay.mlmd", "assay.cli")


def _modules():
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: pathlib.Path):
    """Every module imported anywhere in the file (lazy imports too), but not TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for t in ast.walk(tree) if _is_type_checking(t) for n in ast.walk(t)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def _graph():
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        deps = set()
        for imported in _imports(path):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                # A module's own parent packages run first anyway: not an edge of a circle.
                if target in mods and target != name and not name.startswith(target + "."):
                    deps.add(target)
        graph[name] = deps
    return graph


def test_every_module_is_a_few_hundred_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_no_import_circle():
    graph = _graph()
    circles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_core_never_imports_the_adapters():
    mods = _modules()
    bad = []
    for name, path in mods.items():
        if name.startswith(CORE):
            for imported in _imports(path):
                if imported.startswith(ADAPTERS) and not imported.startswith("tfx_bsl"):
                    bad.append(f"{name} imports {imported}")
    assert not bad, bad


def test_the_checks_can_fail(tmp_path, monkeypatch):
    """The circle finder finds a planted circle (so a pass above means something)."""
    pkg = tmp_path / "assay"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("from assay.a import y\n")
    (pkg / "a" / "y.py").write_text("def f():\n    from assay.a.x import g\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    graph = _graph()
    assert graph["assay.a.x"] == {"assay.a.y"} and graph["assay.a.y"] == {"assay.a.x"}
