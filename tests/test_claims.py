"""The published study's claims, tested on synthetic runs whose answers are known."""

from types import SimpleNamespace

from memcosim.claims import CLAIMS, claims_markdown, evaluate_claims


def runs(spec):
    """``spec``: {(algorithm, width): (accuracy, J/update, epochs to target, [cumulative J per epoch])}."""
    rows, records = [], []
    for (alg, width), (acc, e_update, to_target, cumulative) in spec.items():
        rows.append({"algorithm": alg, "pulse_width_s": width, "test_accuracy": acc, "array_energy_per_update_j": e_update,
                     "epochs_to_target": to_target, "total_energy_j": cumulative[-1]})
        records.append({"results": SimpleNamespace(epochs=[{"cumulative_energy_j": c} for c in cumulative])})
    return rows, records


def test_the_published_pattern_holds_every_claim():
    rows, records = runs({
        ("mixed_precision", 2e-8): (0.97, 1e-10, 3, [1e-8, 2e-8, 3e-8, 4e-8]),
        ("mixed_precision", 2e-4): (0.97, 1e-8, 1, [1e-6, 2e-6, 3e-6, 4e-6]),
        ("sgd", 2e-8): (0.10, 2e-10, None, [1e-8] * 4),
        ("sgd", 2e-4): (0.12, 2e-8, None, [1e-6] * 4),
        ("symmetry_shift", 2e-8): (0.85, 2e-10, None, [1e-8] * 4),
        ("symmetry_shift", 2e-4): (0.90, 2e-8, None, [1e-6] * 4),
        ("float", None): (0.98, 0.0, 1, [0.0] * 4),
    })
    claims = evaluate_claims(rows, records)
    assert [c["claim"] for c in claims] == list(CLAIMS)
    assert [c["verdict"] for c in claims] == ["holds"] * 5
    assert "2e-08 s: 3" in claims[1]["evidence"] and "2e-08 s: 3e-08 J" in claims[2]["evidence"]
    assert len(claims_markdown(claims)) == 7


def test_what_the_compact_model_gave_does_not_hold():
    # energy flat then rising, epochs growing with width, SGD not far below, shifting worse than SGD
    rows, records = runs({
        ("mixed_precision", 2e-8): (0.965, 5e-11, None, [1e-8, 2e-8]),
        ("mixed_precision", 2e-6): (0.97, 4e-11, 2, [1e-8, 2e-8]),
        ("mixed_precision", 2e-4): (0.97, 3e-9, 1, [1e-6, 2e-6]),
        ("sgd", 2e-8): (0.46, 1e-9, None, [1e-8, 2e-8]),
        ("symmetry_shift", 2e-8): (0.32, 1e-9, None, [1e-8, 2e-8]),
    })
    verdicts = {c["claim"]: c["verdict"] for c in evaluate_claims(rows, records)}
    assert verdicts[CLAIMS[0]] == "does not hold"  # falls from 20 ns to 2 us
    assert verdicts[CLAIMS[1]] == "holds"  # never reached at 20 ns counts as more epochs
    assert verdicts[CLAIMS[2]] == "holds"  # 2e-8 J (whole run) < 2e-6 J, accuracy within 1 point
    assert verdicts[CLAIMS[3]] == "holds"
    assert verdicts[CLAIMS[4]] == "does not hold"


def test_missing_algorithms_are_not_measured():
    rows, records = runs({("mixed_precision", 2e-8): (0.9, 1e-10, None, [1.0])})
    verdicts = [c["verdict"] for c in evaluate_claims(rows, records)]
    assert verdicts == ["not measured"] * 5
