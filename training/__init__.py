"""PyTorch crossbar layers, update rules and the energy ledger."""

__all__ = []
