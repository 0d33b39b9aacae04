"""docs/architecture.md's asset graph is the code's: every asset, group and dependency."""

import re

from lakehouse_assets.definitions import defs
from tests.conftest import REPO


def diagram() -> str:
    text = (REPO / "docs" / "architecture.md").read_text()
    return re.search(r"```mermaid\n(flowchart LR.*?)```", text, re.S).group(1)


def test_the_diagram_has_every_asset_in_its_group_and_every_edge() -> None:
    text = diagram()
    graph = defs.resolve_asset_graph()
    groups = {
        m.group(1): set(re.findall(r"^\s{4}(\w+)\s*$", m.group(2), re.M))
        for m in re.finditer(r"subgraph (\w+)[^\n]*\n(.*?)\n\s*end", text, re.S)
    }
    edges = set(re.findall(r"^\s*(\w+) (?:--\s*\"[^\"]*\"\s*)?--> (\w+)", text, re.M))
    expected_edges = set()
    for key in graph.get_all_asset_keys():
        name, node = key.to_user_string(), graph.get(key)
        assert name in groups.get(node.group_name, set()), f"{name} not in subgraph {node.group_name}"
        expected_edges |= {(parent.to_user_string(), name) for parent in node.parent_keys}
    assets = {k.to_user_string() for k in graph.get_all_asset_keys()}
    shown = {(a, b) for a, b in edges if a in assets and b in assets}
    assert shown == expected_edges
