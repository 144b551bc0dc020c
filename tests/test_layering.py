"""The package layering: lower layers never import higher ones, and nothing imports in a cycle.

Every import in bitcoinzk is read from the source (ast), including imports inside functions
and under `TYPE_CHECKING`: a lazy or type-only import is still a dependency a reader has
to follow. The order of the layers is data, below; a package may import its own modules
and those of strictly lower layers only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import bitcoinzk

ROOT = Path(bitcoinzk.__file__).resolve().parent

LAYERS: list[set[str]] = [
    {"plumbing"},  # safejson, httprpc, procutil, sqlite, keyfile: top-level modules
    {"crypto"},
    {"spec", "bitcoin"},
    {"sequencer", "prover", "da"},
    {"settlement", "settlement.evm", "settlement.bitvm", "bridge"},
    {"node.rpc"},
    {"node"},  # the node itself, with node.explorer (mounted by the server)
    {"fullnode"},
    {"devnet"},
    {"bench"},
    {"cli"},
]
"""Lowest first. Packages in the same layer do not import each other."""

SUBPACKAGES = ("settlement.evm", "settlement.bitvm", "node.rpc")
"""Sub-packages that are layers of their own; any other sub-package belongs to its parent."""

INDEPENDENT = [
    ("bitcoin.remote", "bitcoin.regtest"),  # the bitcoind backend stands beside the embedded one
    ("node.explorer", "node.server"),  # the servers mount the explorer, not the reverse
    ("fullnode", "sequencer.sequencer"),  # a full node follows published data, never orders
]
"""(importer, imported) module prefixes that must not depend on each other within a layer."""


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports() -> dict[str, set[str]]:
    """Module (without the `bitcoinzk.` prefix) -> the bitcoinzk modules it imports."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - node.level + 1]
                    mod = ".".join(["bitcoinzk", *base, *([node.module] if node.module else [])])
                else:
                    mod = node.module or ""
                # `from pkg import module` depends on the module, else on pkg
                targets = [
                    f"{mod}.{a.name}" if f"{mod}.{a.name}"[10:] in modules else mod
                    for a in node.names
                ]
            else:
                continue
            for t in targets:
                if t == "bitcoinzk" or t.startswith("bitcoinzk."):
                    dep = t[len("bitcoinzk.") :] if t != "bitcoinzk" else ""
                    # a package is imported before any of its modules anyway: not an edge
                    if dep != name and not (dep == "" or name.startswith(dep + ".")):
                        deps.add(dep)
        graph[name] = deps
    return graph


def layer_of(module: str) -> str:
    for sub in SUBPACKAGES:
        if module == sub or module.startswith(sub + "."):
            return sub
    top = module.split(".")[0]
    if module == "" or (top not in {p for layer in LAYERS for p in layer} and "." not in module):
        return "plumbing"
    return top


RANK = {package: i for i, layer in enumerate(LAYERS) for package in layer}


def test_every_package_has_a_layer():
    missing = {layer_of(m) for m in imports()} - set(RANK)
    assert not missing, f"packages missing from LAYERS: {sorted(missing)}"


def test_no_upward_or_sideways_import():
    wrong = []
    for module, deps in sorted(imports().items()):
        here = layer_of(module)
        for dep in sorted(deps):
            there = layer_of(dep)
            if there != here and RANK[there] >= RANK[here]:
                wrong.append(f"bitcoinzk.{module} ({here}) imports bitcoinzk.{dep} ({there})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_no_import_cycle():
    graph = imports()
    state: dict[str, int] = {}  # 1 on the path, 2 done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph.get(module, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_independent_modules():
    wrong = [
        f"bitcoinzk.{module} imports bitcoinzk.{dep}"
        for module, deps in imports().items()
        for importer, imported in INDEPENDENT
        if module == importer or module.startswith(importer + ".")
        for dep in deps
        if dep == imported or dep.startswith(imported + ".")
    ]
    assert not wrong, "\n".join(wrong)
