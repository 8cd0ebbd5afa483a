"""Device compact models: MTJ and ferroelectric HfO2-ZrO2 synapses."""

__all__ = []
