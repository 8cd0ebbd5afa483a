"""The ledger's sums: Python numbers on the CPU, the same IEEE additions as float64 tensors."""

import torch

from memcosim.training.ledger import CATEGORIES, EnergyLedger


def _bookings(seed=0, n=300):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n):
        energies = tuple(torch.rand((), generator=gen, dtype=torch.float64) * 1e-9 for _ in CATEGORIES)
        pulses = torch.randint(0, 1000, (), generator=gen)
        read = torch.rand((), generator=gen, dtype=torch.float64) * 1e-12
        periphery = [float(v) * 1e-11 for v in torch.rand(4, generator=gen, dtype=torch.float64)]
        yield energies, pulses, read, periphery, float(torch.rand((), generator=gen)) * 1e-6


def test_cpu_sums_are_python_numbers_equal_to_float64_tensor_sums_bit_for_bit():
    ledger = EnergyLedger()
    write = {c: torch.zeros((), dtype=torch.float64) for c in CATEGORIES}
    read, pulses, layer_write, update_latency = (torch.zeros((), dtype=torch.float64), 0,
                                                 torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64))
    for energies, n, e_read, periphery, latency in _bookings():
        ledger.add_pulses("fc", energies, n)
        ledger.add_read(e_read, layer="fc", samples=64)
        ledger.add_periphery("update", periphery, latency, layer="fc")
        for c, e in zip(CATEGORIES, energies):
            write[c] += e
        read += e_read
        pulses += int(n)
        layer_write += sum(energies)
        update_latency += latency
    assert all(isinstance(v, float) for v in ledger.write.values()) and isinstance(ledger.pulses, int)
    totals = ledger.totals()
    assert [totals.write_selected_j, totals.write_half_selected_j, totals.write_wires_drivers_j] == [
        float(write[c]) for c in CATEGORIES]
    assert totals.read_j == float(read) and totals.pulses == pulses
    assert totals.per_layer["fc"].write_j == float(layer_write)
    assert totals.tile.update.latency_s == float(update_latency)


def test_a_checkpoint_of_the_sums_holds_tensors_and_restores_the_same_numbers():
    ledger = EnergyLedger()
    for energies, n, e_read, periphery, latency in _bookings(n=20):
        ledger.add_pulses("fc", energies, n)
        ledger.add_pulses("fc", energies, n, calibration=True)
        ledger.add_read(e_read, training=False, layer="fc", samples=10)
        ledger.add_periphery("inference", periphery, latency, layer="fc")
    state = ledger.state_dict()["totals_raw"]
    assert state["pulses"].dtype == torch.int64 and state["read_j"].dtype == torch.float64
    assert state["per_layer"]["fc"]["pulses"].dtype == torch.int64
    restored = EnergyLedger()
    restored.load_state_dict({"totals_raw": state})
    assert restored.totals() == ledger.totals()
    assert isinstance(restored.pulses, int) and isinstance(restored.per_layer["fc"]["write_j"], float)
