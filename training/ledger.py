"""Energy ledger: every programming pulse and every read, costed with the fitted circuit models.

Write energy
------------
Each pulse is costed as one selected-cell write of the characterised array (V/2 or V/3 scheme,
:class:`memcosim.circuits.models.WriteEnergyModel`, its terms read by name), at the
cell's own state. A :class:`WriteEnergyTable` tabulates, for potentiating and depressing pulses,
the energy of one pulse against the normalised state ``x = (G - g_min) / (g_max - g_min)``,
split into

* ``selected_j`` — the selected cell's conduction, plus its polarization-reversal charge, which
  is costed from the state change the device model actually made (``|x1 - x0|``), so ``n``
  pulses cost exactly the switching they did;
* ``half_selected_j`` — conduction and disturb switching of the half-selected cells;
* ``wires_drivers_j`` — charging the lines and cells through the drivers, driver Joule loss.

A device that receives ``n`` pulses while moving from ``x0`` to ``x1`` is charged ``n`` times the
per-pulse (non-switching) energies at the mid state ``(x0 + x1) / 2``.

Read energy
-----------
One matrix-vector multiply costs ``coefficient * t_read * sum_i V_i^2 sum_j g_ij``
(the fitted read model) for every array read (weight and reference or negative devices).

Whole tile
----------
With a periphery (:mod:`memcosim.training.periphery`) the ledger also books the blocks around
the array — drivers, converters, sense, digital — and their latency, per phase: ``update``
(programming), ``read`` (training forward passes) and ``inference`` (evaluation). The array's
own numbers above stay as they are; :meth:`EnergyLedger.totals` gives both (``tile``,
:class:`~memcosim.training.ledger_totals.LedgerTotals`).
"""

import numpy as np
import torch

from memcosim.circuits.energy_models import WRITE_TERM_PART
from memcosim.circuits.models import WriteEnergyModel
from memcosim.devices.hzo import HZOFilm
from memcosim.devices.hzo_energy import cell_pulse_energy_j, switching_energy_per_state_j
from memcosim.devices.prims import jitable, torch_prims
from memcosim.training.ledger_totals import LayerTotals, LedgerTotals, ReadPhase, TileTotals, UpdatePhase
from memcosim.training.periphery import BLOCKS
from memcosim.base.errors import ConfigError
from memcosim.base.reproducible import fixed_order_sum

__all__ = ["WriteEnergyTable", "EnergyLedger", "CATEGORIES", "PHASES", "write_energy_terms", "pulse_amplitudes_v"]

CATEGORIES = ("selected_j", "half_selected_j", "wires_drivers_j")
PHASES = ("update", "read", "inference")
"""Phases the periphery is booked in: programming, training reads, evaluation reads."""
_LAYER_KEYS = ("pulses", "write_j", "read_j", "eval_read_j", *(f"{p}_periphery_j" for p in PHASES),
               *(f"{p}_latency_s" for p in PHASES))
"""What the ledger sums per layer: pulses, the array's write, read and evaluation-read energy, and the
periphery's energy and latency of each phase."""
TABLE_STATES = 65
"""Normalised states tabulated in [0, 1] (evenly spaced) by a :class:`WriteEnergyTable`."""


class WriteEnergyTable:
    """Per-pulse write energy against cell state, for up and down pulses (see module docstring).

    Attributes
    ----------
    per_pulse_j : dict
        ``{"up"|"down": {category: ndarray (65,)}}``, joules per pulse at each tabulated state.
    switching_j_per_dx : dict
        ``{"up"|"down": float}``: polarization-reversal energy per unit of normalised state change.
    source : str
        ``"circuit"`` (fitted ngspice model), ``"device"`` (device-level only) or ``"constant"``.
    pulse : (float, float) or None
        ``(amplitude_v, width_s)`` of the pulse the table was tabulated at (None: a constant table,
        or an amplitude that is a function of the state): a tile refuses a table of another pulse.
    """

    def __init__(self, per_pulse_j, switching_j_per_dx, source, pulse=None):
        self.per_pulse_j = per_pulse_j
        self.switching_j_per_dx = switching_j_per_dx
        self.source = source
        self.pulse = pulse
        self._cache = {}

    @classmethod
    def from_circuit_model(cls, write_model, params, amplitude_v, width_s, rows, cols):
        """Tables from a fitted :class:`~memcosim.circuits.models.WriteEnergyModel` (``memcosim characterize``).

        Each term goes to the part of the array it is dissipated in
        (:data:`memcosim.circuits.energy_models.WRITE_TERM_PART`), read by name; the selected
        cell's switching term is costed from the state change each pulse actually made.
        ``amplitude_v``: the pulse magnitude (volts), or a function ``(x, direction) -> volts``
        of the normalised state (a measured device's pulse amplitude, :func:`pulse_amplitudes_v`).
        """
        if not isinstance(write_model, WriteEnergyModel):
            raise ConfigError(f"write energy model: expected a WriteEnergyModel, got {type(write_model).__name__}")
        if write_model.device_kind != "hzo" or not isinstance(params, HZOFilm):
            raise ConfigError("write energy model: training costs pulses with an HZO write-energy model")
        grid = np.linspace(0.0, 1.0, TABLE_STATES)
        per_pulse, switching = {}, {}
        for direction, sign in (("up", 1), ("down", -1)):
            volts = pulse_amplitudes_v(amplitude_v, grid, direction)
            terms = [write_model.terms_j(params, sign * params.potentiation_polarity * v, width_s, x, rows, cols)
                     for x, v in zip(grid, volts)]
            per_pulse[direction] = {
                f"{part}_j": np.array([sum(e for name, e in t.items() if WRITE_TERM_PART[name] == part
                                           and name != "selected_switching") for t in terms])
                for part in ("selected", "half_selected", "wires_drivers")
            }
            # a full sweep of the window costs the amplitude of each state times its switching charge:
            # per unit of state change, the mean amplitude over the states
            switching[direction] = float(switching_energy_per_state_j(params, volts.mean(),
                                                                      write_model.coefficient("selected_switching")))
        return cls(per_pulse, switching, "circuit", _pulse_of(amplitude_v, width_s))

    @classmethod
    def from_device(cls, params, amplitude_v, width_s):
        """Device-level energy only (no circuit): conduction, C V^2 and switching of the cell
        (``amplitude_v`` as in :meth:`from_circuit_model`)."""
        grid = np.linspace(0.0, 1.0, TABLE_STATES)
        g = params.g_min_s + grid * (params.g_max_s - params.g_min_s)
        zero = np.zeros(TABLE_STATES)
        per_pulse, switching = {}, {}
        for direction in ("up", "down"):
            v = pulse_amplitudes_v(amplitude_v, grid, direction)
            cell = cell_pulse_energy_j(g, params, v, width_s, charge_c=0.0)  # switching: per state change, below
            per_pulse[direction] = {"selected_j": cell.conduction_j + cell.capacitive_j, "half_selected_j": zero,
                                    "wires_drivers_j": zero}
            switching[direction] = float(switching_energy_per_state_j(params, v.mean()))
        return cls(per_pulse, switching, "device", _pulse_of(amplitude_v, width_s))

    @classmethod
    def constant(cls, energy_per_pulse_j=0.0):
        """Every pulse costs ``energy_per_pulse_j`` on the selected cell (ideal devices, tests)."""
        flat = np.full(TABLE_STATES, float(energy_per_pulse_j))
        zero = np.zeros(TABLE_STATES)
        per_pulse = {d: {"selected_j": flat, "half_selected_j": zero, "wires_drivers_j": zero} for d in ("up", "down")}
        return cls(per_pulse, {"up": 0.0, "down": 0.0}, "constant")

    def directions(self, device):
        """``(table, switching)``: the up and down tables stacked, float64 ``(2 directions, 3
        categories, 65 states)`` joules per pulse, and ``(2,)`` switching joules per unit of state
        change, on ``device`` (made once)."""
        key = ("directions", str(device))
        if key not in self._cache:
            tables = self.tables(device)
            self._cache[key] = (torch.stack([tables["up"], tables["down"]]).contiguous(),
                                torch.tensor([self.switching_j_per_dx["up"], self.switching_j_per_dx["down"]],
                                             dtype=torch.float64, device=device))
        return self._cache[key]

    def tables(self, device, dtype=torch.float64):
        """Per-pulse energies as tensors ``{"up"|"down": (3 categories, 65 states)}`` on ``device``."""
        key = (str(device), dtype)
        if key not in self._cache:
            self._cache[key] = {
                d: torch.stack([torch.as_tensor(self.per_pulse_j[d][c], dtype=dtype, device=device) for c in CATEGORIES])
                for d in ("up", "down")
            }
        return self._cache[key]

    def energy_j(self, x0, x1, n_pulses, direction):
        """Energies (J, one per category, float64 tensors) of ``n_pulses`` moving states ``x0 -> x1``:
        the sums of :meth:`terms_j` (in a fixed order)."""
        return tuple(fixed_order_sum(t) for t in self.terms_j(x0, x1, n_pulses, direction))

    def terms_j(self, x0, x1, n_pulses, direction):
        """Each device's energies (J, one float64 tensor per category, flattened) of ``n_pulses``
        moving states ``x0 -> x1``.

        Parameters
        ----------
        x0, x1 : torch.Tensor
            Normalised states before and after, any shape.
        n_pulses : torch.Tensor
            Pulses per device (>= 0), same shape.
        direction : {"up", "down"}
        """
        dtype = torch.float64
        return write_energy_terms(self.tables(x0.device, dtype)[direction], self.switching_j_per_dx[direction],
                                  x0.to(dtype).reshape(-1), x1.to(dtype).reshape(-1), n_pulses.to(dtype).reshape(-1),
                                  torch_prims())


def _pulse_of(amplitude_v, width_s):
    """The ``pulse`` a table records: ``(amplitude_v, width_s)``, None for a state-dependent amplitude."""
    return None if callable(amplitude_v) else (float(amplitude_v), float(width_s))


def pulse_amplitudes_v(amplitude_v, x, direction):
    """Pulse magnitudes (volts) at normalised states ``x`` (ndarray) for ``direction``: a constant
    ``amplitude_v``, or ``amplitude_v(x, direction)`` when it is a function of the state."""
    volts = np.asarray(amplitude_v(x, direction) if callable(amplitude_v) else np.full(np.shape(x), amplitude_v), float)
    if not (np.all(np.isfinite(volts)) and np.all(volts > 0)):
        raise ConfigError(f"pulse amplitude: must be finite and > 0 volts at every state, got {volts.min():g} .. "
                          f"{volts.max():g}")
    return volts


@jitable
def write_energy_terms(table, switching_j_per_dx, x0, x1, n, f):
    """Write energy of ``n`` pulses of one direction moving a cell's state from ``x0`` to ``x1``.

    ``n`` times the per-pulse energy of each category, interpolated in ``table`` (3 categories x
    65 states in [0, 1]) at the mid state ``(x0 + x1) / 2``; the selected cell adds
    ``switching_j_per_dx * |x1 - x0|`` (the switching the pulses actually did). Written once with
    the primitives ``f`` (:mod:`memcosim.devices.prims`): on tensors for the ledger, on scalars
    in the compiled training kernel.

    Returns
    -------
    (selected_j, half_selected_j, wires_drivers_j)
        Joules, shaped like ``x0``.
    """
    last = table.shape[1] - 1
    pos = f.clip(0.5 * (x0 + x1), 0.0, 1.0) * last
    lo = f.clip(f.index(pos), 0, last - 1)
    frac = pos - lo
    selected = (table[0, lo] * (1 - frac) + table[0, lo + 1] * frac) * n + switching_j_per_dx * f.abs(x1 - x0)
    half = (table[1, lo] * (1 - frac) + table[1, lo + 1] * frac) * n
    wires = (table[2, lo] * (1 - frac) + table[2, lo + 1] * frac) * n
    return selected, half, wires


class EnergyLedger:
    """Counts pulses and energies per layer, per optimizer step, per epoch and in total.

    On the CPU the sums are Python floats and ints (a float64 tensor's ``+=`` costs a few
    microseconds of dispatch, and a step books ~100 of them; the additions are the same IEEE
    double additions in the same order, so the same numbers); on a GPU they are float64 / int64
    tensors on the training device (no host sync per step). Read them with :meth:`totals`.
    """

    def __init__(self, device="cpu"):
        self.device = torch.device(device)
        self._host = self.device.type == "cpu"
        self.reset()

    def _zero(self, dtype=torch.float64):
        """A new sum: ``0.0`` / ``0`` on the CPU, a 0-d tensor of ``dtype`` on another device."""
        if self._host:
            return 0 if dtype == torch.int64 else 0.0
        return torch.zeros((), dtype=dtype, device=self.device)

    def _number(self, value):
        """``value`` (a number or a 0-d tensor) as the sums hold it: a Python number on the CPU."""
        return value.item() if self._host and isinstance(value, torch.Tensor) else value

    def reset(self):
        z = self._zero
        self.write = {c: z() for c in CATEGORIES}
        self.read_j = z()
        self.eval_read_j = z()
        self.pulses = z(torch.int64)
        self.calibration_pulses = z(torch.int64)
        self.calibration_j = z()
        self.updates = 0
        self.per_layer = {}
        self.inferences = {}  # evaluation samples read through each layer, by layer name
        self.periphery = {p: {b: z() for b in BLOCKS} for p in PHASES}
        self.latency_s = {p: z() for p in PHASES}

    def _layer(self, name):
        """The per-layer sums of ``name`` (every key present: checkpoints of earlier versions lack some)."""
        entry = self.per_layer.setdefault(name, {})
        if len(entry) < len(_LAYER_KEYS):
            for key in _LAYER_KEYS:
                if key not in entry:
                    entry[key] = self._zero(torch.int64 if key == "pulses" else torch.float64)
        return entry

    def add_pulses(self, layer, energies_j, n_pulses, calibration=False):
        """Book ``n_pulses`` (int tensor, summed; or an int) with ``energies_j`` (3 tensors or floats, one per category)."""
        if self._host:
            count = n_pulses if isinstance(n_pulses, int) else int(n_pulses if n_pulses.dim() == 0 else n_pulses.sum())
            energies_j = [self._number(e) for e in energies_j]
        else:
            count = n_pulses if isinstance(n_pulses, int) else n_pulses.sum().to(torch.int64)
        if calibration:
            self.calibration_pulses += count
            self.calibration_j += sum(energies_j)
            return
        for cat, e in zip(CATEGORIES, energies_j):
            self.write[cat] += e
        self.pulses += count
        entry = self._layer(layer)
        entry["pulses"] += count
        entry["write_j"] += sum(energies_j)

    def add_read(self, energy_j, training=True, layer=None, samples=0):
        """Book the read energy of one forward pass of one layer (``samples``: the array reads it made,
        its batch size, or batch x output positions for a convolution)."""
        energy_j = self._number(energy_j)
        if training:
            self.read_j += energy_j
        else:
            self.eval_read_j += energy_j
            if layer is not None:
                self.inferences[layer] = self.inferences.get(layer, 0) + samples
        if layer is not None:
            self._layer(layer)["read_j" if training else "eval_read_j"] += energy_j

    def add_periphery(self, phase, energies_j, latency_s, layer=None):
        """Book the periphery of one event of ``phase`` (:data:`PHASES`): joules per block
        (:data:`~memcosim.training.periphery.BLOCKS`, floats or 0-dim tensors) and its latency, seconds
        (``layer``: also in that layer's sums)."""
        if self._host:
            energies_j, latency_s = [self._number(e) for e in energies_j], self._number(latency_s)
        entry = self.periphery[phase]
        for block, e in zip(BLOCKS, energies_j):
            entry[block] += e
        self.latency_s[phase] += latency_s
        if layer is not None:
            sums = self._layer(layer)
            sums[f"{phase}_periphery_j"] += sum(energies_j)
            sums[f"{phase}_latency_s"] += latency_s

    def end_update(self):
        """Mark the end of one optimizer step."""
        self.updates += 1

    def totals(self):
        """The sums as Python numbers: a :class:`~memcosim.training.ledger_totals.LedgerTotals`."""
        write = {c: float(v) for c, v in self.write.items()}
        total_write = sum(write.values())
        return LedgerTotals(
            updates=self.updates, pulses=int(self.pulses), write_selected_j=write["selected_j"],
            write_half_selected_j=write["half_selected_j"], write_wires_drivers_j=write["wires_drivers_j"],
            write_j=total_write, read_j=float(self.read_j), eval_read_j=float(self.eval_read_j),
            array_energy_per_update_j=total_write / self.updates if self.updates else 0.0,
            calibration_pulses=int(self.calibration_pulses), calibration_j=float(self.calibration_j),
            tile=self._tile(write), per_layer={k: self._layer_totals(k) for k in self.per_layer})

    def _layer_totals(self, name):
        """One layer's sums as Python numbers, with its energy per update (the array's and the whole
        tile's: the array plus the periphery of programming) and its update latency per update."""
        v = self._layer(name)
        out = {key: int(v[key]) if key == "pulses" else float(v[key]) for key in _LAYER_KEYS}
        tile_update = out["write_j"] + out["update_periphery_j"]
        per = 1 / self.updates if self.updates else 0.0
        return LayerTotals(**out, array_energy_per_update_j=out["write_j"] * per,
                           tile_energy_per_update_j=tile_update * per,
                           latency_per_update_s=out["update_latency_s"] * per)

    def _tile(self, write):
        """The whole tile per phase: the array's part split as booked, the periphery's by block, latency."""
        array = {"update": {"array_selected_j": write["selected_j"], "array_half_selected_j": write["half_selected_j"],
                            "array_wires_j": write["wires_drivers_j"]},
                 "read": {"array_j": float(self.read_j)}, "inference": {"array_j": float(self.eval_read_j)}}
        phases = {}
        for phase in PHASES:
            parts = {**array[phase], **{b: float(v) for b, v in self.periphery[phase].items()}}
            kind = UpdatePhase if phase == "update" else ReadPhase
            phases[phase] = kind(**parts, total_j=sum(parts.values()), latency_s=float(self.latency_s[phase]))
        inferences = max(self.inferences.values(), default=0)
        per = lambda value, n: value / n if n else 0.0  # noqa: E731
        return TileTotals(**phases, inferences=inferences,
                          tile_energy_per_update_j=per(phases["update"].total_j, self.updates),
                          latency_per_update_s=per(phases["update"].latency_s, self.updates),
                          tile_energy_per_inference_j=per(phases["inference"].total_j, inferences),
                          latency_per_inference_s=per(phases["inference"].latency_s, inferences))

    def _saved(self, value, dtype=torch.float64):
        """A sum as a checkpoint holds it: a 0-d CPU tensor (float64, or int64 for counts)."""
        return value.cpu() if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=dtype)

    def _loaded(self, tensor):
        """A checkpoint's 0-d tensor as this ledger sums it (:meth:`_number` of it on its device)."""
        return self._number(tensor.to(self.device))

    def state_dict(self):
        f, i = self._saved, lambda v: self._saved(v, torch.int64)  # noqa: E731
        return {"totals_raw": {"write": {c: f(v) for c, v in self.write.items()}, "read_j": f(self.read_j),
                               "eval_read_j": f(self.eval_read_j), "pulses": i(self.pulses),
                               "calibration_pulses": i(self.calibration_pulses), "calibration_j": f(self.calibration_j),
                               "updates": self.updates,
                               "per_layer": {k: {kk: i(vv) if kk == "pulses" else f(vv) for kk, vv in v.items()}
                                             for k, v in self.per_layer.items()},
                               "inferences": dict(self.inferences),
                               "periphery": {p: {b: f(v) for b, v in e.items()} for p, e in self.periphery.items()},
                               "latency_s": {p: f(v) for p, v in self.latency_s.items()}}}

    def load_state_dict(self, state):
        raw = state["totals_raw"]
        n = self._loaded
        self.write = {c: n(v) for c, v in raw["write"].items()}
        self.read_j, self.eval_read_j = n(raw["read_j"]), n(raw["eval_read_j"])
        self.pulses, self.calibration_pulses = n(raw["pulses"]), n(raw["calibration_pulses"])
        self.calibration_j, self.updates = n(raw["calibration_j"]), raw["updates"]
        self.per_layer = {k: {kk: n(vv) for kk, vv in v.items()} for k, v in raw["per_layer"].items()}
        if "periphery" in raw:  # checkpoints written before the periphery was booked have none
            self.periphery = {p: {b: n(v) for b, v in e.items()} for p, e in raw["periphery"].items()}
            self.latency_s = {p: n(v) for p, v in raw["latency_s"].items()}
            self.inferences = dict(raw["inferences"])
