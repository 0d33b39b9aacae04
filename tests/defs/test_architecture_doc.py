"""docs/architecture.md's asset graph is the code's: every asset, group and dependency."""

import itertools
import re
from graphlib import TopologicalSorter

from lakehouse_assets.definitions import defs
from tests.conftest import REPO


def diagram() -> str:
    text = (REPO / "docs" / "architecture.md").read_text()
    return re.search(r"```mermaid\n(flowchart LR.*?)```", text, re.S).group(1)


def subgraphs(text: str) -> dict[str, set[str]]:
    """Each subgraph's name -> the bare node names in it, in the diagram's order."""
    return {
        m.group(1): set(re.findall(r"^\s{4}(\w+)\s*$", m.group(2), re.M))
        for m in re.finditer(r"subgraph (\w+)[^\n]*\n(.*?)\n\s*end", text, re.S)
    }


def test_the_diagram_has_every_asset_in_its_group_and_every_edge() -> None:
    text = diagram()
    graph = defs.resolve_asset_graph()
    groups = subgraphs(text)
    edges = set(re.findall(r"^\s*(\w+) (?:--\s*\"[^\"]*\"\s*)?--> (\w+)", text, re.M))
    expected_edges = set()
    for key in graph.get_all_asset_keys():
        name, node = key.to_user_string(), graph.get(key)
        assert name in groups.get(node.group_name, set()), f"{name} not in subgraph {node.group_name}"
        expected_edges |= {(parent.to_user_string(), name) for parent in node.parent_keys}
    assets = {k.to_user_string() for k in graph.get_all_asset_keys()}
    shown = {(a, b) for a, b in edges if a in assets and b in assets}
    assert shown == expected_edges


def test_the_groups_lineage_is_acyclic_and_reads_in_the_documented_order() -> None:
    """The UI's collapsed lineage has an edge A -> B when an asset of group A feeds one of B.
    It must have no cycle, and its only topological order must be the diagram's order of
    the groups' subgraphs, so the graph reads left to right as documented."""
    graph = defs.resolve_asset_graph()
    feeds: dict[str, set[str]] = {}  # group -> the groups it reads from
    for key in graph.get_all_asset_keys():
        group = graph.get(key).group_name
        feeds.setdefault(group, set())
        feeds[group] |= {graph.get(p).group_name for p in graph.get(key).parent_keys} - {group}
    documented = [name for name in subgraphs(diagram()) if name in feeds]
    assert documented == ["bronze", "silver", "drift", "gold", "strategy"]
    order = list(TopologicalSorter(feeds).static_order())  # raises CycleError on a cycle
    assert order == documented
    # The order is the only one: each group reads from the one just before it.
    assert all(before in feeds[after] for before, after in itertools.pairwise(order))
