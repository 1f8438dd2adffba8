"""The shape of the code (docs/architecture.md): imports without cycles, small classes, the
model's inputs built in one module. Read from the source, nothing imported."""

from __future__ import annotations

import ast

from tests.paths import ROOT

PACKAGES = ("app", "training", "recommender_core")
#: the most lines, and the most instance attributes, a class of the packages may have
MAX_CLASS_LINES = 200
MAX_ATTRIBUTES = 13


def _modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = ast.parse(path.read_text(), str(path))
    return found


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The package modules ``name`` imports (``from a.b import c``: a.b.c when a module)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
    return {module for module in found if module in known and module != name}


def test_no_import_cycles_and_no_hidden_imports() -> None:
    modules = _modules()
    graph = {name: _imports(name, tree, set(modules)) for name, tree in modules.items()}
    hidden = [name for name, tree in modules.items()
              if any(isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                     for node in ast.walk(tree))]
    assert hidden == [], f"imports behind TYPE_CHECKING hide cycles: {hidden}"
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycle = path[path.index(other):] + [other] if other in path else [name, other]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if other not in state:
                visit(other, [*path, other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_classes_stay_small() -> None:
    large = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            configuration = any(ast.unparse(base) in ("BaseModel", "BaseSettings")
                                for base in node.bases)  # one documented line a field
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            attributes = {target.attr for target in ast.walk(node)
                          if isinstance(target, ast.Attribute) and isinstance(target.ctx, ast.Store)
                          and isinstance(target.value, ast.Name) and target.value.id == "self"}
            fields = {item.target.id for item in node.body if isinstance(item, ast.AnnAssign)
                      and isinstance(item.target, ast.Name)}
            many = len(attributes | fields) > MAX_ATTRIBUTES and not configuration
            if lines > MAX_CLASS_LINES or many:
                large.append(f"{name}.{node.name}: {lines} lines, "
                             f"{len(attributes | fields)} attributes")
    assert large == []


def test_the_model_inputs_are_built_in_one_module() -> None:
    """Only recommender_core.inputs makes a dict of the model's user-side inputs (the Keras
    graphs declare them: towers.py)."""
    builders = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict) and any(
                    isinstance(key, ast.Constant) and key.value == "history"
                    for key in node.keys) and not any(
                    isinstance(value, ast.Call) and "Categorical" in ast.unparse(value.func)
                    for value in node.values):
                builders.append(f"{name}:{node.lineno}")
    assert builders == ["recommender_core.inputs:" + str(_line_of_inputs_dict())]


def _line_of_inputs_dict() -> int:
    tree = ast.parse((ROOT / "recommender_core" / "inputs.py").read_text())
    function = next(node for node in tree.body
                    if isinstance(node, ast.FunctionDef) and node.name == "model_inputs")
    return next(node.lineno for node in ast.walk(function) if isinstance(node, ast.Dict))


def test_every_module_says_what_it_is_for() -> None:
    """Each module of the packages opens with a docstring (docs/architecture.md)."""
    silent = [name for name, tree in _modules().items() if ast.get_docstring(tree) is None]
    assert silent == []
