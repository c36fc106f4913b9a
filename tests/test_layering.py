"""The rooms keep their walls: what import-linter cannot see is checked here.

- No app imports another app's private names (an underscore module, function or class), nor reaches them as an
  attribute of a module it imported: a private name may change without notice, so depending on it across a wall
  couples two rooms by accident. Django's `_meta` is public API and allowed.
- `apps.get_model` is not a way around the layering: outside migrations, an app never asks the app registry for a
  model of an app above it (import-linter would not see that dependency).
"""
from __future__ import annotations

import ast
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _layers() -> list[str]:
    """Apps from the bottom up, as `.importlinter` orders them."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = [line.strip() for line in config["importlinter:contract:layers"]["layers"].splitlines() if line.strip()]
    return list(reversed(layers))


LAYERS = _layers()
ALLOWED_PRIVATE = {"_meta"}


def _app_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in LAYERS else None


def _sources():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield app, path, ast.parse(path.read_text(), filename=str(path))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in ALLOWED_PRIVATE


def test_the_layering_contract_names_every_app():
    installed = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert installed <= set(LAYERS), f"apps missing from .importlinter's layers: {installed - set(LAYERS)}"
    assert LAYERS[0] == "contacts_project"


def test_no_app_imports_another_apps_private_names():
    found = []
    for app, path, tree in _sources():
        modules = {}  # local name -> module of another app
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                other = _app_of(node.module)
                if not other or other == app:
                    continue
                for alias in node.names:
                    if any(_private(part) for part in node.module.split(".")[1:]) or _private(alias.name):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module} import {alias.name}")
                    modules[alias.asname or alias.name] = node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    other = _app_of(alias.name)
                    if other and other != app:
                        if any(_private(part) for part in alias.name.split(".")[1:]):
                            found.append(f"{path.relative_to(ROOT)}:{node.lineno} import {alias.name}")
                        modules[alias.asname or alias.name.split(".")[0]] = alias.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in modules and _private(node.attr):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}")
    assert not found, "private names used across apps (make them public or move them):\n" + "\n".join(found)


def test_no_app_reaches_a_higher_app_through_the_app_registry():
    rank = {app: i for i, app in enumerate(LAYERS)}
    found = []
    for app, path, tree in _sources():
        if "tests" in path.parts:  # a test may read any model
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get_model" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    target = first.value.split(".")[0]
                    if target in rank and rank[target] > rank[app]:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} get_model({first.value!r})")
    assert not found, "apps.get_model on a higher app (register through contacts_project.registry):\n" + \
        "\n".join(found)
