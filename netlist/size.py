"""What a crossbar deck costs before it is built: memory estimates for the memory budget.

Measured on the read and write decks of HZO and MTJ arrays (64 x 64 and 128 x 128): rendering a
deck peaks at 4.1-4.2 kB of Python objects per cell (the card objects, then the joined text of
~100-125 bytes per cell); :data:`DECK_BYTES_PER_CELL` keeps a margin above that.
"""

__all__ = ["DECK_BYTES_PER_CELL", "deck_bytes"]

DECK_BYTES_PER_CELL = 5000
"""Peak bytes per cell while a read or write deck is built and rendered."""


def deck_bytes(rows, cols):
    """Estimated peak memory (bytes) of building one ``rows x cols`` deck. Cost: O(1)."""
    return DECK_BYTES_PER_CELL * rows * cols + 10e6
