"""Crossbar specs rendered as SPICE decks that ngspice runs unmodified."""

from memcosim.netlist.bias import BIAS_SCHEMES, BiasLevels, bias_levels
from memcosim.netlist.crossbar import read_deck, write_deck
from memcosim.netlist.deck import Deck, safe_name, safe_text, spice_number
from memcosim.netlist.spec import AccessTransistor, CrossbarSpec, wire_segment_resistance_ohm
from memcosim.netlist.topology import check_topology

__all__ = [
    "AccessTransistor",
    "BiasLevels",
    "BIAS_SCHEMES",
    "bias_levels",
    "CrossbarSpec",
    "Deck",
    "check_topology",
    "read_deck",
    "write_deck",
    "safe_name",
    "safe_text",
    "spice_number",
    "wire_segment_resistance_ohm",
]
