"""pyproject.toml against the code: the core's dependencies are what the core imports, in
ranges (no exact pins); every module-level import of a third-party package in the core is a
core dependency, and the adapters' are brought by an extra. Read from the source (ast), so a new
module-level `import pandas` in a core module fails here before it fails on a core install."""

import ast
import pathlib
import re
import sys

try:
    import tomllib
except ImportError:                     # Python 3.10: pytest's own dependency
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "component" / "assay"
# The top-level module (google.protobuf: the package) -> the distribution that provides it.
DISTRIBUTION = {"numpy": "numpy", "pyarrow": "pyarrow", "yaml": "pyyaml",
                "google.protobuf": "protobuf", "google_crc32c": "google-crc32c",
                "tqdm": "tqdm", "apache_beam": "apache-beam", "tfx": "tfx",
                "tfx_bsl": "tfx-bsl", "ml_metadata": "ml-metadata", "absl": "absl-py",
                "tensorflow": "tensorflow", "tensorflow_model_analysis": "tfx",
                "kfp": "kfp", "sklearn": "scikit-learn", "joblib": "joblib",
                "pandas": "pandas", "mlflow": "mlflow-skinny", "tf_keras": "tf-keras",
                "keras": "tensorflow", "docker": "kfp", "tensorflow_metadata": "tfx"}
# The adapters: modules that belong to an extra, imported only when that feature is used.
ADAPTERS = ("tfx/", "kfp/", "mlmd/", "engine/beam", "integrations/")
# absl-py comes with TFX (the tfx extra); the rest are named in the extras themselves.
VIA = {"absl-py": "tfx", "tensorflow": "tensorflow"}


def _project():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _name(requirement):
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower().replace("_", "-")


def _imports(module_level_only):
    """{(relative path, module key)} of every third-party import of the package."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        nodes = tree.body if module_level_only else list(ast.walk(tree))
        if module_level_only:                    # `try: import x` at the top counts too
            nodes = nodes + [n for t in tree.body if isinstance(t, ast.Try) for n in t.body]
        for node in nodes:
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("assay", "__future__"):
                    continue
                key = "google.protobuf" if name.startswith("google.protobuf") else top
                found.add((path.relative_to(PACKAGE).as_posix(), key))
    return found


def test_no_exact_pins():
    project = _project()
    for requirement in project["dependencies"] + [
            r for extra in project["optional-dependencies"].values() for r in extra]:
        assert "==" not in requirement, f"{requirement!r} pins an exact version: use a range"


def test_module_level_imports_of_the_core_are_core_dependencies():
    core = {_name(r) for r in _project()["dependencies"]}
    found = _imports(module_level_only=True)
    assert {"numpy", "pyarrow", "google.protobuf", "apache_beam"} <= {m for _, m in found}
    for path, module in sorted(found):
        assert module in DISTRIBUTION, f"{path} imports {module}: add it to DISTRIBUTION"
        if not path.startswith(ADAPTERS):
            assert DISTRIBUTION[module] in core, \
                f"{path} imports {module} at module level, which the core does not install"


def test_the_adapters_imports_come_with_an_extra():
    extras = _project()["optional-dependencies"]
    provided = {_name(r) for reqs in extras.values() for r in reqs}
    for path, module in sorted(_imports(module_level_only=True)):
        if path.startswith(ADAPTERS):
            dist = DISTRIBUTION[module]
            assert dist in provided or VIA.get(dist) in extras, f"{path}: {module}"


def test_every_core_dependency_is_imported_somewhere():
    used = {DISTRIBUTION.get(module) for _, module in _imports(module_level_only=False)}
    for requirement in _project()["dependencies"]:
        assert _name(requirement) in used, f"{requirement!r}: nothing in assay imports it"


def test_the_core_allows_python_3_10_to_3_13():
    spec = _project()["requires-python"]
    assert spec == ">=3.10,<3.14", spec
