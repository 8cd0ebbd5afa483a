"""The area part of a study report: each run's tile area by block and its network's tile count,
beside the whole tile's energy and latency (``results["area"]``, :mod:`memcosim.build_area`)."""

__all__ = ["AREA_PARTS", "area_fields", "area_markdown"]

AREA_PARTS = ("array_m2", "drivers_m2", "sense_m2", "converters_m2", "digital_m2")
"""The blocks of a tile's area (:class:`memcosim.circuits.area.TileArea`)."""


def area_fields(area):
    """Flat report fields of one run's ``area`` (:func:`memcosim.build_area.study_area`; empty
    without a periphery: None)."""
    if not area:
        return {}
    tile = area["tile"]
    return {"tile_area_m2": tile["total_m2"], "tiles": area["tiles"], "network_area_m2": area["network_m2"],
            **{f"area_{part}": tile[part] for part in AREA_PARTS}}


def area_markdown(rows, label):
    """The report's "Area" section (a list of lines; empty when no run has one)."""
    sized = [row for row in rows if "tile_area_m2" in row]
    if not sized:
        return []
    head = ["run", "mm^2 / tile", *(f"{part[:-3]} %" for part in AREA_PARTS), "tiles", "mm^2 network", "J/update tile",
            "J/inference tile", "s/inference"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in sized:
        total = row["tile_area_m2"]
        shares = " | ".join(f"{100 * row[f'area_{part}'] / total:.1f}" for part in AREA_PARTS)
        lines.append(f"| {label(row)} | {total * 1e6:.4g} | {shares} | {row['tiles']} | {row['network_area_m2'] * 1e6:.4g} | "
                     f"{row.get('tile_energy_per_update_j', 0.0):.3g} | {row.get('tile_energy_per_inference_j', 0.0):.3g} | "
                     f"{row.get('tile_latency_per_inference_s', 0.0):.3g} |")
    return ["## Area", "",
            "Silicon area of one tile by block (the array at `array.cell_area_f2` F^2, 28 nm; the line drivers as "
            "the decks size them; the integrators; DACs and ADCs, the ADCs from a fit to Murmann's survey; adders and "
            "the mixed-precision accumulator), the tiles the network needs and their total, beside the tile's energy "
            "and latency. Model and sources: docs/periphery.md.", "", *lines, ""]
