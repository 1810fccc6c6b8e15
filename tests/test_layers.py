"""The shape of the code, checked: imports inside functions say why, and views and consumers read
client data only through the accessors of the apps' ``access.py`` (docs/architecture.md).

The layers themselves are import-linter contracts (pyproject.toml), checked by ``make lint``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "rapport"

# Models that hold a client's data or say who treats whom. Views and consumers reach them only
# through an accessor (``access.py``) or a domain function that takes an already-checked object.
CLIENT_DATA_MODELS = {
    "ClientProfile",
    "CareRelationship",
    "EmergencyAccess",
    "Appointment",
    "AppointmentSeries",
    "ConsentSignature",
    "ReminderDelivery",
    "Visit",
    "VisitEvent",
    "SafetyCheckIn",
    "Conversation",
    "Participant",
    "Message",
    "Revision",
    "Attachment",
    "Assignment",
    "MeasureTask",
    "Response",
    "SafetyAlert",
    "AuditEvent",
    "BillingLine",
    "ClientFee",
}


def modules() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def is_handler_module(path: Path) -> bool:
    """Views (``views.py``, ``*_views.py``, a ``views/`` package) and socket consumers."""
    return (
        path.name in {"views.py", "consumers.py"}
        or path.name.endswith("_views.py")
        or path.parent.name == "views"
    )


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT.parent)) if path.is_relative_to(ROOT.parent) else path.name


def _is_task(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name) and target.id == "task":
            return True
    return False


def _imports_rapport(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "rapport"
    return any(alias.name.split(".")[0] == "rapport" for alias in node.names)


def _explained(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line, or on the lines just above its block of imports."""
    if "#" in lines[lineno - 1]:
        return True
    for line in reversed(lines[: lineno - 1]):
        text = line.strip()
        if text.startswith("#"):
            return True
        if not text or text.startswith(("from ", "import ")):
            continue
        return False
    return False


def unexplained_function_imports(path: Path) -> list[str]:
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if _is_task(function):
            continue  # task entry points import their work when the worker runs them
        for node in ast.walk(function):
            if (
                isinstance(node, (ast.Import, ast.ImportFrom))
                and _imports_rapport(node)
                and not _explained(lines, node.lineno)
            ):
                found.append(f"{_shown(path)}:{node.lineno}")
    return found


def client_data_queries(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in {"objects", "_default_manager"}
            and isinstance(node.value, ast.Name)
            and node.value.id in CLIENT_DATA_MODELS
        ):
            found.append(f"{_shown(path)}:{node.lineno} {node.value.id}")
    return found


def test_imports_inside_functions_say_why() -> None:
    """An import of ``rapport.*`` inside a function dodges the layers unless there is a reason:
    a comment says it (apps' ``ready``, commands that configure Django first), or the function
    is a task entry point."""
    found = [place for path in modules() for place in unexplained_function_imports(path)]
    assert not found, "imports inside functions without a comment saying why:\n" + "\n".join(found)


def test_views_and_consumers_read_client_data_through_accessors() -> None:
    found = [
        place
        for path in modules()
        if is_handler_module(path)
        for place in client_data_queries(path)
    ]
    assert not found, (
        "views and consumers must read client data through the app's access.py:\n"
        + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    from rapport.care import access\n", 1),
        ("def f():\n    # Django is configured first.\n    from rapport.care import access\n", 0),
        ("def f():\n    from rapport.care import access  # the app registry is ready\n", 0),
        ("def f():\n    from django.db import connection\n", 0),
        ("@task()\ndef f():\n    from rapport.measures import services\n", 0),
        ("def f():\n    x = 1\n    from . import models\n", 1),
    ],
)
def test_the_import_check_catches_what_it_should(
    tmp_path: Path, source: str, expected: int
) -> None:
    module = tmp_path / "module.py"
    module.write_text(source)
    assert len(unexplained_function_imports(module)) == expected


def test_the_accessor_check_catches_a_view_query(tmp_path: Path) -> None:
    module = tmp_path / "client_views.py"
    module.write_text("def view(request, pk):\n    return Visit.objects.get(pk=pk)\n")
    assert is_handler_module(module)
    assert client_data_queries(module) == ["client_views.py:2 Visit"]
