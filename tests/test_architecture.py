"""The layers of docs/architecture.md hold: no import cycle, and imports only go down.

Read from the source with `ast`, so imports inside function bodies count too.
"""

import ast
import re
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
    "checkout.monitoring",
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
    "checkout.cli.mail",
    "checkout.cli.alerts",
    "checkout.cli.operations",
    "checkout.cli.providers",
    "checkout.cli.services",
    "checkout.cli.endpoints",
    "checkout.cli.backup",
    "checkout.cli.discounts",
    "checkout.gunicorn_config",
}
LEAVES = {
    "checkout.addresses",
    "checkout.config",
    "checkout.extensions",
    "checkout.errors",
    "checkout.enums",
    "checkout.money",
    "checkout.jsonio",
    "checkout.queue",
    "checkout.logs",
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


def _called_names(node: ast.AST) -> set[str]:
    """What a piece of source calls, as written: 'Order', 'opening.new_order'."""
    return {ast.unparse(call.func) for call in ast.walk(node) if isinstance(call, ast.Call)}


def _function(name: str, function: str) -> ast.FunctionDef:
    tree = ast.parse(MODULES[name].read_text())
    return next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == function
    )


def test_orders_are_made_only_by_the_opening_module():
    makers = {
        name
        for name in MODULES
        if {"Order", "models.Order"} & _called_names(ast.parse(MODULES[name].read_text()))
    }
    assert makers == {"checkout.opening"}
    callers = {
        name
        for name in MODULES
        if name != "checkout.opening"
        and "new_order"
        in {call.rsplit(".", 1)[-1] for call in _called_names(ast.parse(MODULES[name].read_text()))}
    }
    assert callers == set(), "only opening.py's openers call new_order"


def test_the_api_and_payment_links_open_orders_through_one_pricing():
    assert "opening.open_api_order" in _called_names(
        _function("checkout.api.orders", "create_payment_intent")
    )
    assert "opening.open_link_order" in _called_names(_function("checkout.links.routes", "pay"))
    assert "price_order" in _called_names(_function("checkout.opening", "open_api_order"))
    assert "_opened" in _called_names(_function("checkout.opening", "open_link_order"))
    assert "price_link_order" in _called_names(_function("checkout.opening", "_opened"))
    for pricing in ("price_order", "price_link_order"):
        assert "_priced" in _called_names(_function("checkout.opening", pricing)), pricing
    # Two openers, two names: nothing else in checkout/ is called open_order.
    for name, path in MODULES.items():
        defined = {
            node.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef)
        }
        assert "open_order" not in defined, name


# Sizes: a module a newcomer can read, functions that do one thing.
MAX_MODULE_LINES = 650
MAX_FUNCTION_LINES = 60
# The OpenAPI document is one literal: its length is the API's, not a function's.
LONG_BY_DESIGN = {("checkout.api.openapi", "openapi_document")}


def _long_modules(names) -> list[str]:
    lines = {name: len(MODULES[name].read_text().splitlines()) for name in sorted(names)}
    return [f"{name}: {count} lines" for name, count in lines.items() if count > MAX_MODULE_LINES]


def _long_functions(names) -> list[str]:
    """Functions (methods and nested ones too) longer than the limit, decorators included."""
    found = []
    for name in sorted(names):
        for node in ast.walk(ast.parse(MODULES[name].read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            start = min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
            length = node.end_lineno - start + 1
            if length > MAX_FUNCTION_LINES and (name, node.name) not in LONG_BY_DESIGN:
                found.append(f"{name}.{node.name}: {length} lines")
    return found


def test_no_module_is_over_the_line_limit():
    assert _long_modules(MODULES.keys()) == []


def test_no_function_is_over_the_line_limit():
    assert _long_functions(MODULES.keys()) == []


# docs/architecture.md names modules three ways: a file in backticks (`orders.py`,
# `admin/providers.py`, `api/`), a name in backticks (`orders.apply_outcome()`,
# `checkout.worker.huey`), and the bare names of the layer diagram.
ROOT = PACKAGE.parent
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
DIAGRAM = ARCHITECTURE.split("```")[1]
PROSE = "".join(ARCHITECTURE.split("```")[::2])
QUOTED = re.findall(r"`([^`\n]+)`", PROSE)
FILES = [quoted for quoted in QUOTED if re.fullmatch(r"[\w/.-]+(\.py|/)", quoted)]
SHORT_NAMES = {name.removeprefix("checkout."): name for name in MODULES if name != "checkout"}


def _diagram_row(layer: str) -> list[str]:
    """The module names of a layer of the diagram, on its first line and those under it."""
    rows, inside = [], False
    for line in DIAGRAM.splitlines():
        label = line[:15].strip()
        if label:
            inside = label == layer
        if inside:
            rows += [word for word in line[15:].split() if re.fullmatch(r"[\w.]+", word)]
    return rows


def _defines(module: str, attribute: str) -> bool:
    """Whether the module defines or imports the name at its top level."""
    tree = ast.parse(MODULES[module].read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = {node.name}
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {target.id for target in targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        else:
            continue
        if attribute in names:
            return True
    return False


def _dotted_names_that_do_not_exist() -> list[str]:
    """`module.name` quoted in the doc, where the module is Kassa's and lacks the name."""
    missing = []
    for quoted in QUOTED:
        dotted = re.match(r"([A-Za-z_][\w.]*)", quoted)
        if not dotted or "." not in dotted[1] or quoted.endswith((".py", ".md", ".html")):
            continue
        parts = dotted[1].removeprefix("checkout.").split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = SHORT_NAMES.get(".".join(parts[:cut]))
            if module:
                if not _defines(module, parts[cut]):
                    missing.append(quoted)
                break
    return missing


def test_every_file_the_architecture_doc_names_exists():
    missing = [name for name in FILES if not ((PACKAGE / name).exists() or (ROOT / name).exists())]
    assert missing == []


def test_every_name_the_architecture_doc_quotes_exists():
    assert _dotted_names_that_do_not_exist() == []


def test_the_architecture_diagram_names_only_modules_and_every_leaf():
    words = _diagram_row("services") + _diagram_row("leaves")
    assert [word for word in words if word not in SHORT_NAMES] == []
    assert {SHORT_NAMES[word] for word in _diagram_row("leaves")} == LEAVES


def test_the_architecture_doc_names_every_module():
    quoted = set(QUOTED)

    def named(name: str) -> bool:
        path = MODULES[name].relative_to(PACKAGE).as_posix()
        folder = path.removesuffix("__init__.py")
        return path in quoted or name in quoted or (folder != "" and folder in quoted)

    assert [name for name in MODULES if not named(name)] == []
