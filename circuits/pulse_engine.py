"""Which engine simulates a characterisation's pulse, and its energy split, cached.

``circuit.transient_engine`` chooses: ``ngspice`` runs the pulse deck
(:mod:`memcosim.netlist.crossbar`) in ngspice, ``native`` integrates the same circuit with
:func:`memcosim.circuits.transient.simulate_pulse`, and ``auto`` takes ngspice up to
``native_above`` rows and columns and the native engine above (ngspice's time grows about as
the cube of the cells: 0.3 s at 8 x 8, 10-17 s at 32 x 32, 4 min at 64 x 64 on this project's
2-core machine; docs/circuits.md). Both give the split of
:func:`memcosim.circuits.energy_split.line_pulse_energy_split`; the engine is part of the cache
key and of every point's record.
"""

import hashlib
import json

import numpy as np

from memcosim.base.errors import ConfigError
from memcosim.circuits import transient
from memcosim.circuits.energy_split import SPLIT_VERSION, line_pulse_energy_split
from memcosim.circuits.ngspice import ngspice_version, run_ngspice
from memcosim.circuits.point_cache import cached_point, point_key

__all__ = ["ENGINES", "transient_engine", "pulse_split", "spec_fingerprint"]

ENGINES = ("auto", "ngspice", "native")
"""Values of ``circuit.transient_engine``."""


def transient_engine(choice, native_above, size):
    """``ngspice`` or ``native`` for an array of ``size`` rows (and columns) under ``choice``."""
    if choice not in ENGINES:
        raise ConfigError(f"circuit.transient_engine: allowed: {', '.join(ENGINES)}; got {choice!r}")
    if choice != "auto":
        return choice
    return "native" if size > native_above else "ngspice"


def spec_fingerprint(spec):
    """SHA-256 of everything in a :class:`~memcosim.netlist.CrossbarSpec` that the native engine simulates."""
    h = hashlib.sha256()
    for array in (spec.conductance_s, spec.mtj_states, spec.mtj_defects):
        h.update(b"-" if array is None else np.ascontiguousarray(array, dtype=float).tobytes())
    params = spec.hzo_params if spec.cell == "hzo" else spec.mtj_params
    settings = {"cell": spec.cell, "shape": [spec.rows, spec.cols], "r_wire_ohm": spec.r_wire_ohm,
                "c_wire_f": spec.c_wire_f, "r_driver_ohm": spec.r_driver_ohm, "access": repr(spec.access),
                "params": None if params is None else params.to_dict()}
    h.update(json.dumps(settings, sort_keys=True, default=repr).encode())
    return h.hexdigest()


def pulse_split(engine, spec, v_rows, v_cols, width_s, make_deck, cache_dir, label, timeout_s):
    """The energy split of one pulse, from the cache or simulated by ``engine``.

    Parameters
    ----------
    engine : {"ngspice", "native"}
    spec : CrossbarSpec
    v_rows, v_cols : ndarray
        Nominal line voltages of the pulse, volts.
    width_s : float
    make_deck : callable
        Builds the pulse deck (called for ngspice only: a large deck is never rendered natively).
    cache_dir : Path
    label : str
        Kind of point for the cache key (``write``, ``operation``).
    timeout_s : float
        ngspice's wall-clock limit, seconds.

    Returns
    -------
    (split, key, from_cache)
    """
    if engine == "ngspice":
        deck = make_deck()
        key = point_key(label, deck, ngspice_version(), SPLIT_VERSION)

        def compute():
            result = run_ngspice(deck, backend="shared", timeout_s=timeout_s)
            return line_pulse_energy_split(result, spec, v_rows, v_cols, width_s)
    else:
        key = point_key(label, "native", transient.ENGINE_VERSION, SPLIT_VERSION, spec_fingerprint(spec),
                        np.asarray(v_rows, float).tobytes(), np.asarray(v_cols, float).tobytes(), repr(float(width_s)))

        def compute():
            return transient.simulate_pulse(spec, v_rows, v_cols, width_s).split
    split, hit = cached_point(cache_dir, key, compute)
    return split, key, hit
