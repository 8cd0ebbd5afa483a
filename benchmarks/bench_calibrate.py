"""Time of a joint HZO calibration: batched finite-difference Jacobian vs scipy's per-parameter one,
and of the switching-kinetics model (hzo_kinetics: 16 + 8 quantile bins stepped as one array axis).

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_calibrate.py [--data ../shared/data/hzo-lbe247]

Both fits get the same budget (one round, ``max_nfev`` 30) on the measured ID161ZR15000 and
ID301XR1000Oct series; the batched Jacobian steps all perturbed parameter vectors through the
pulse sequences together instead of one model run per parameter. Their difference steps differ
(1e-6 relative here, ~1.5e-8 in scipy), so the iterates and the r2 reached can differ too.

Measured 2026-11-22 (2-core x86_64): batched 6-9x faster (ID161 two populations 2.9 s vs 25.8 s,
ID301 1.0 s vs 8.9 s).
"""

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from memcosim.devices.calibrate import fit_hzo, fit_hzo_kinetics
from memcosim.devices.measurements import read_sweep


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared/data/hzo-lbe247"))
    args = parser.parse_args()
    print(f"# {platform.machine()}, numpy {np.__version__}")
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


if __name__ == "__main__":
    main()
