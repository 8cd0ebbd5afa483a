"""Crossbar specs rendered as SPICE decks that ngspice runs unmodified."""

__all__ = []
