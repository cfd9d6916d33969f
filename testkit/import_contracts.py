"""An import contract `make lint` adds to import-linter's own: no cycle anywhere among the project's modules.

import-linter's `acyclic_siblings` compares the files of one package with each other, and its layers compare
packages; neither sees a package's `__init__` and one of its own files importing each other, or a cycle that
runs through three packages' files. This contract looks at the whole graph of the project's modules, imports
inside functions included, and reports every group of modules that import each other round.
"""

from __future__ import annotations

from typing import cast

import grimp
from importlinter.application import output
from importlinter.domain.contract import Contract, ContractCheck


def cycles(graph: grimp.ImportGraph, roots: set[str]) -> list[list[str]]:
    """Every strongly connected group of two or more project modules, each sorted, in a stable order."""
    modules = sorted(m for m in graph.modules if m.split(".")[0] in roots)
    inside = set(modules)
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in inside and i != m)
             for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:  # Tarjan's algorithm, iteratively: the graph is deeper than the recursion limit allows
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for position in range(next_edge, len(edges[node])):
                target = edges[node][position]
                if target not in index:
                    work.append((node, position + 1))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return sorted(found)


class NoCycles(Contract):
    type_name = "no_cycles"

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        roots = set(cast(list[str], self.session_options["root_packages"]))
        found = cycles(graph, roots)
        return ContractCheck(kept=not found, metadata={"cycles": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for group in cast(list[list[str]], check.metadata["cycles"]):
            output.print_error(f"These modules import each other round: {', '.join(group)}")
            output.new_line()

