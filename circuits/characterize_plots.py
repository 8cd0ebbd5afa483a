"""Plots of a characterisation: write energy against pulse width, and an IR-drop heat map."""

from memcosim.circuits.crossbar_solver import CrossbarSolver

__all__ = ["plot_characterization"]


def plot_characterization(setup, results, heat_case, out):
    """``out/write_energy_vs_width.png`` and ``out/ir_drop_heatmap.png`` (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    size = max(setup.sizes)
    for amp in sorted({r["amplitude_v"] for r in results}):
        pts = sorted((r["width_s"], r["sources_j"]) for r in results if r["amplitude_v"] == amp and r["size"] == size and r["x0"] == setup.initial_states[-1] and r["position"] == "near")
        if pts:
            ax.loglog(*zip(*pts), "o-", label=f"{amp:+.1f} V")
    ax.set_xlabel("pulse width (s)")
    ax.set_ylabel("energy per pulse (J)")
    ax.set_title(f"write energy, {size}x{size} array, ngspice")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "write_energy_vs_width.png", dpi=100)
    plt.close(fig)
    c = heat_case
    solver = CrossbarSolver(c["g"], c["r_wire_ohm"], setup.r_driver_ohm)
    sol = solver.solve(c["v"])
    cell_current = c["g"] * (sol.row_voltage_v - sol.col_voltage_v)
    ideal = c["g"] * c["v"][:, None]
    full = setup.read_voltage_v * setup.conductance_window_s()[1] * c["size"]
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    im = ax.imshow((cell_current - ideal) / full * 100, cmap="viridis")
    fig.colorbar(im, label="cell current error (% of full-scale column current)")
    ax.set_title(f"IR-drop, {c['size']}x{c['size']}, r_wire = {c['r_wire_ohm']:g} ohm")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    fig.tight_layout()
    fig.savefig(out / "ir_drop_heatmap.png", dpi=100)
    plt.close(fig)
