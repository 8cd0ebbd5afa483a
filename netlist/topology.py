"""Topology checks of a deck before it is written, with networkx.

Every node needs a DC path to ground (capacitors do not count), no element name may repeat,
and no node may hang on a single element terminal (a dangling wire). Cost ``O(n + m)`` for
``n`` nodes and ``m`` elements.
"""

import networkx as nx

from memcosim.base.errors import NetlistError

__all__ = ["check_topology", "deck_graph"]

_TERMINALS = {"r": 2, "c": 2, "v": 2, "i": 2, "b": 2, "l": 2, "m": 4, "x": None}


def _ground(node):
    return "0" if node.lower() in ("0", "gnd") else node.lower()


def deck_graph(text):
    """Multigraph of a deck: nodes are circuit nodes, edges are elements (``kind``, ``name``).

    Subcircuit bodies are skipped; an ``X`` instance contributes its two first nodes.
    """
    graph = nx.MultiGraph()
    names = set()
    in_subckt = False
    for line_no, raw in enumerate(text.splitlines()[1:], 2):
        line = raw.strip()
        if not line or line.startswith("*"):
            continue
        lower = line.lower()
        if lower.startswith(".subckt"):
            in_subckt = True
            continue
        if lower.startswith(".ends"):
            in_subckt = False
            continue
        if in_subckt or line.startswith((".", "+")):
            continue
        parts = line.split()
        name = parts[0].lower()
        if name in names:
            raise NetlistError(f"line {line_no}: duplicate element name {parts[0]!r}")
        names.add(name)
        count = _TERMINALS.get(name[0], 2) or 2
        nodes = [_ground(n) for n in parts[1 : 1 + count]]
        if len(nodes) < 2:
            raise NetlistError(f"line {line_no}: element {parts[0]!r} has fewer than 2 nodes")
        kind = name[0]
        if kind == "m":  # drain-source is the DC path; gate and bulk are terminals only
            pairs = [(nodes[0], nodes[2], True), (nodes[1], nodes[2], False), (nodes[3], nodes[2], False)]
        else:
            pairs = [(nodes[0], nodes[1], kind not in ("c",))]
        for a, b, dc in pairs:
            graph.add_edge(a, b, name=name, dc=dc)
    return graph


def check_topology(text):
    """Raise :class:`NetlistError` naming the offending node or element, else return the graph."""
    graph = deck_graph(text)
    if "0" not in graph:
        raise NetlistError("topology: no element connects to ground (node 0)")
    dc = nx.Graph()
    dc.add_nodes_from(graph.nodes)
    dc.add_edges_from((a, b) for a, b, d in graph.edges(data=True) if d["dc"])
    reachable = nx.node_connected_component(dc, "0")
    floating = sorted(set(graph.nodes) - reachable)
    if floating:
        raise NetlistError(f"topology: node {floating[0]!r} has no DC path to ground ({len(floating)} such node(s))")
    for node in graph.nodes:
        if node != "0" and graph.degree(node) < 2:
            (_, _, data), = graph.edges(node, data=True)
            raise NetlistError(f"topology: node {node!r} is dangling (only element {data['name']!r} touches it)")
    return graph
