"""Time of a joint HZO calibration: batched finite-difference Jacobian vs scipy's per-parameter one,
and of the switching-kinetics model (hzo_kinetics: 16 + 8 quantile bins stepped as one array axis).

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_calibrate.py [--data ../shared/data/hzo-lbe247]

Both fits get the same budget (one round, ``max_nfev`` 30) on the measured ID161ZR15000 and
ID301XR1000Oct series; the batched Jacobian steps all perturbed parameter vectors through the
pulse sequences together instead of one model run per parameter. Their difference steps differ
(1e-6 relative here, ~1.5e-8 in scipy), so the iterates and the r2 reached can differ too.

Measured 2026-11-22 (2-core x86_64): batched 6-9x faster (ID161 two populations 2.9 s vs 25.8 s,
ID301 1.0 s vs 8.9 s).

``--rows 10000 100000 1000000``: long sweeps (the 2 ms ID161ZR15000 sweep's pulses repeated to
that many rows): one model run of the 24 parameter sets of a batched Jacobian, numpy
(``apply_pulse_sequence_state``, up to 10^4 rows) against the compiled replay
(``devices/hzo_replay.py``), and the whole default fit (``fit_hzo``: coarse to fine past
``SUBSAMPLE_PULSES``), wall and CPU seconds; ``--whole`` also fits with every round on all pulses.
Set OPENBLAS_NUM_THREADS=1 on a shared machine (the fit's small SVDs stall on busy BLAS threads).
"""

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from memcosim.devices.calibrate import fit_hzo, fit_hzo_kinetics
from memcosim.devices.measurements import read_sweep

LONG_SOURCE = "ID161ZR15000_1_20241024113844_w0.002.csv"


def long_sweep(path, rows, out):
    """The sweep of ``path`` with its pulse rows repeated to ``rows`` rows, written to ``out``."""
    lines = Path(path).read_text().splitlines()
    head, body = lines[:7], [ln for ln in lines[7:] if ln.strip()]
    repeated = [body[k % len(body)].split(",") for k in range(rows)]
    for k, fields in enumerate(repeated):
        fields[0] = fields[1] = str(k + 1)
    out.write_text("\n".join(head + [",".join(f) for f in repeated]) + "\n")
    return read_sweep(out)


def long_rows(data, row_counts, whole=False):
    import tempfile

    from memcosim.devices import calibrate_hzo, hzo, hzo_replay
    from memcosim.devices.sweep_fit import SweepArrays

    print(f"\n{'rows':>8} {'numpy run s':>11} {'compiled run s':>14} {'fit s':>7} {'fit cpu s':>9} {'r2':>8}"
          + (f" {'whole fit s':>11} {'whole r2':>8}" if whole else ""))
    with tempfile.TemporaryDirectory() as tmp:
        for rows in row_counts:
            sweep = long_sweep(Path(data) / LONG_SOURCE, rows, Path(tmp) / f"rows{rows}_w0.002.csv")
            arrays = SweepArrays([sweep], [0.0])
            problem = calibrate_hzo._HZOProblem(arrays, 2, True)
            thetas = problem.start + np.random.default_rng(0).normal(0, 0.1, (len(problem.start) + 1, len(problem.start)))
            batch = problem.batch(thetas, -1)
            state = hzo.state_from_conductance(problem.g[:, 0], batch, pulses_applied=arrays.pulses_before)
            args = (state, arrays.count[:, 1:].T, batch, arrays.amp[:, 1:].T, arrays.width[:, 1:].T)
            hzo_replay.replay_states(*args)  # compile
            times = []
            for run in (hzo.apply_pulse_sequence_state, hzo_replay.replay_states):
                if run is hzo.apply_pulse_sequence_state and rows > 10_000:
                    times.append(float("nan"))  # minutes; linear in rows
                    continue
                t0 = time.perf_counter()
                run(*args)
                times.append(time.perf_counter() - t0)
            del args, state, batch
            fits = []
            for subsample in (calibrate_hzo.SUBSAMPLE_PULSES,) + ((None,) if whole else ()):
                t0, c0 = time.perf_counter(), time.process_time()
                fit = fit_hzo([sweep], subsample_pulses=subsample, progress=True)
                fits.append((time.perf_counter() - t0, time.process_time() - c0, fit.files[0]["r2"]))
            line = f"{rows:>8} {times[0]:>11.3f} {times[1]:>14.4f} {fits[0][0]:>7.1f} {fits[0][1]:>9.1f} {fits[0][2]:>8.5f}"
            if whole:
                line += f" {fits[1][0]:>11.1f} {fits[1][2]:>8.5f}"
            print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared/data/hzo-lbe247"))
    parser.add_argument("--rows", type=int, nargs="*", default=[],
                        help="also time long sweeps of these many rows (compiled replay vs numpy, and the whole fit)")
    parser.add_argument("--only-rows", action="store_true", help="skip the measured series")
    parser.add_argument("--whole", action="store_true",
                        help="also fit the long sweeps with every round on all pulses (no coarse stage)")
    args = parser.parse_args()
    print(f"# {platform.machine()}, numpy {np.__version__}")
    if args.only_rows:
        return long_rows(args.data, args.rows, args.whole)
    print(f"{'series':<16} {'populations':>11} {'jacobian':>9} {'seconds':>8} {'min r2':>7}")
    for series in ("ID161ZR15000", "ID301XR1000Oct"):
        sweeps = [read_sweep(p) for p in sorted(Path(args.data).glob(f"{series}_*.csv"))]
        for populations in (1, 2):
            for jac in ("batched", "2-point"):
                t0 = time.perf_counter()
                fit = fit_hzo(sweeps, populations=populations, reweight_rounds=1, max_nfev=30, jacobian=jac)
                dt = time.perf_counter() - t0
                print(f"{series:<16} {populations:>11} {jac:>9} {dt:>8.1f} {min(f['r2'] for f in fit.files):>7.4f}", flush=True)
        t0 = time.perf_counter()
        fit = fit_hzo_kinetics(sweeps, starts=(0.3,), reweight_rounds=1, max_nfev=30)
        dt = time.perf_counter() - t0
        print(f"{series:<16} {'kinetics':>11} {'batched':>9} {dt:>8.1f} {min(f['r2'] for f in fit.files):>7.4f}", flush=True)
    if args.rows:
        long_rows(args.data, args.rows, args.whole)


if __name__ == "__main__":
    main()
