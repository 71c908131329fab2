"""The job graph: the one cycle search and the one dependency order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The first cycle met walking jobs in the order written, as ``[a, b, a]``; or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt, [*trail, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for name in edges:
        if name not in state:
            found = visit(name, [name])
            if found:
                return found
    return None


def order(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Jobs with their dependencies first, otherwise in the order written. Call only when
    ``find_cycle`` found none (a cycle raises ValueError)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(node: str, depth: int) -> None:
        if node in seen:
            return
        if depth > len(edges):
            raise ValueError("the jobs form a cycle")
        for dependency in edges.get(node, ()):
            visit(dependency, depth + 1)
        seen.add(node)
        done.append(node)

    for name in edges:
        visit(name, 0)
    return done
