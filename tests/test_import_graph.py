"""The dependency direction of DESIGN.md, checked on the source (with `ast`, nothing is imported):
`bot` is the answer pipeline only — no web framework, no database, no templates — and nothing below the
web page and the staff console imports them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
NOT_IN_THE_PIPELINE = {"gradio", "fastapi", "starlette", "sqlalchemy", "jinja2", "uvicorn"}
# package → top-level packages it must never import
FORBIDDEN = {
    "prompts": {"ingest", "bot", "store", "web", "staff", "eval"},
    "ingest": {"bot", "store", "web", "staff", "eval"},
    "bot": {"store", "web", "staff", "eval"} | NOT_IN_THE_PIPELINE,
    "store": {"web", "staff", "eval"},
    "staff": {"web", "eval"},
    "web": {"staff", "eval"},
}


def imports(path: Path, package: str) -> set[str]:
    """Top-level names of every module `path` imports (relative imports resolve inside `package`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add(package if node.level else (node.module or "").split(".")[0])
    return found


def modules(package: str) -> list[Path]:
    return sorted((REPO_ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_dependency_direction(package):
    assert modules(package), f"no modules under {package}/"
    wrong = {str(p.relative_to(REPO_ROOT)): sorted(imports(p, package) & FORBIDDEN[package]) for p in modules(package)}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_nothing_imports_the_composition_root():
    users = [str(p.relative_to(REPO_ROOT)) for pkg in (*FORBIDDEN, "eval", "benchmarks") for p in modules(pkg)
             if "app" in imports(p, pkg)]
    assert users == []


def test_the_checker_sees_relative_and_absolute_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import gradio as gr\nfrom sqlalchemy.engine import Engine\nfrom . import x\nfrom .y import z\n"
                      "def f():\n    import jinja2\n")
    assert imports(module, "bot") == {"gradio", "sqlalchemy", "bot", "jinja2"}


def bot_imports(path: Path) -> set[str]:
    """The modules of `bot` that `path` imports (by module name: "chatbot", "factory", ...), lazy imports too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 or module.split(".")[0] == "bot":
                name = module.split(".")[-1] if node.level == 1 else module.partition(".")[2]
                found |= {name} if name else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("bot.")}
    return found - {""}


def test_the_pipeline_modules_import_each_other_one_way():
    """No cycles inside `bot` (there was one, chatbot <-> factory): each stage's module can be read and
    tested on its own, from the components up to the orchestrator."""
    graph = {p.stem: bot_imports(p) for p in modules("bot") if p.stem != "__init__"}
    assert graph["factory"] and "chatbot" not in graph["factory"]
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt in graph:
                visit(nxt, path + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []
