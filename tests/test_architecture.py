"""The layers of docs/architecture.md hold: no import cycle, and imports only go down.

Read from the source with `ast`, so imports inside function bodies count too.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "checkout"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The checkout modules a module imports, anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                # `from checkout import money` imports the module checkout.money;
                # `from checkout import create_app` imports the package itself.
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_checkout_modules():
    assert _cycles(GRAPH) == []


# The layers, top first. A module may import its own layer's leaf modules and anything below.
BLUEPRINTS = (
    "checkout.admin",
    "checkout.api",
    "checkout.brand",
    "checkout.links",
    "checkout.pay",
    "checkout.webhooks",
)
ENTRY_POINTS = {
    "checkout",
    "checkout.worker",
    "checkout.cli",
    "checkout.cli.common",
    "checkout.cli.first_run",
    "checkout.cli.links",
    "checkout.cli.operations",
    "checkout.cli.providers",
    "checkout.cli.services",
    "checkout.gunicorn_config",
}
LEAVES = {
    "checkout.config",
    "checkout.extensions",
    "checkout.errors",
    "checkout.money",
    "checkout.jsonio",
    "checkout.queue",
}


def _blueprint_of(name: str) -> str | None:
    return next((bp for bp in BLUEPRINTS if name == bp or name.startswith(bp + ".")), None)


def _is_service(name: str) -> bool:
    return (
        name not in ENTRY_POINTS
        and name not in LEAVES
        and name not in {"checkout.tasks", "checkout.web"}
        and _blueprint_of(name) is None
    )


@pytest.mark.parametrize("name", sorted(name for name in MODULES if _is_service(name)))
def test_services_import_no_tasks_views_or_entry_points(name):
    upward = {
        imported for imported in GRAPH[name] if not _is_service(imported) and imported not in LEAVES
    }
    assert upward == set(), f"{name} imports a higher layer"


def test_tasks_import_services_only():
    assert "checkout" not in GRAPH["checkout.tasks"], "tasks.py must not build the app"
    assert all(_is_service(name) or name in LEAVES for name in GRAPH["checkout.tasks"])


@pytest.mark.parametrize("name", sorted(name for name in MODULES if _blueprint_of(name)))
def test_blueprints_do_not_import_each_other(name):
    others = {_blueprint_of(imported) for imported in GRAPH[name]} - {None, _blueprint_of(name)}
    assert others == set()
    assert not GRAPH[name] & ENTRY_POINTS


def test_leaves_import_nothing_of_checkout_but_other_leaves():
    for name in LEAVES:
        assert GRAPH[name] <= LEAVES, name


def _subclasses(kind: type) -> list[type]:
    found = []
    for sub in kind.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_domain_error_has_an_http_status():
    from checkout import web
    from checkout.errors import DomainError

    raised = [kind for kind in _subclasses(DomainError) if not kind.__subclasses__()]
    assert len(raised) >= 9
    for error in raised:
        assert web.status_for(error.__new__(error)) in {400, 401, 403, 409, 410, 422, 429}, error
