"""Energy booking of a crossbar layer: every read, pulse and circuit operation into its ledger.

:class:`EnergyBooking` is the part of :class:`~memcosim.training.layers.CrossbarLinear` that
costs what the layer does (a mixin: it reads the layer's tile, devices and ledger): reads with
the fitted read model, pulses with the write-energy tables at the state they meet, the shared
energy of the update scheme's operations (:mod:`memcosim.training.schemes`) and, when the tile
has one, the periphery (:mod:`memcosim.training.periphery`).
"""

import torch

from memcosim.base.reproducible import fixed_order_sum
from memcosim.training import booking_kernel, kernel, kernel_ops, periphery, read_kernel

__all__ = ["EnergyBooking"]


class EnergyBooking:
    """Ledger booking of :class:`~memcosim.training.layers.CrossbarLinear` (see the module docstring)."""

    def _book_read(self, x):
        """Read energy of this forward pass: each sample's inputs scaled to ``read.voltage_v`` at its peak."""
        read = self.tile.read
        x2 = x.reshape(-1, self.in_features)
        model = self.tile.read_energy
        if kernel.enabled(x2):  # one compiled pass, summed in a fixed order (rtol 1e-12 to the torch path)
            energy = model.coefficient * booking_kernel.read_energy_basis(x2, read.voltage_v, self._driven_row_sums(x2),
                                                                      read.width_s)
        else:
            x2 = x2.to(torch.float64)
            volts = read.voltage_v * x2 / x2.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
            energy = model.energy_j(self._read_row_sums(), volts, read.width_s)
        self.ledger.add_read(energy, training=self.training, layer=self.name, samples=len(x2))
        costs = self.tile.energy.periphery
        if costs is not None:
            array = self.tile.array
            self.ledger.add_periphery("read" if self.training else "inference", *periphery.read_cost(
                costs, len(x2), self.in_features, self.out_features, array.rows, array.cols, self.tile.io.columns_per_adc),
                layer=self.name)
        share = self._fast_share()
        if share is not None and share[1].ledger is not None:  # the network also sees the fast array: read too
            share[1]._book_read(x)

    def _driven_row_sums(self, x2):
        """:meth:`_read_row_sums` ``(inputs,)`` as the compiled read-energy sum takes it: where the
        reads ``x2`` drive under a quarter of the inputs (a Tiki-Taka transfer's one-hot read) and
        the full sums are not at hand, the very sums in the driven inputs and zeros elsewhere
        (terms of undriven inputs are zero either way, so the same energy)."""
        cached, ref = self._read_sums, self.reference_s
        if cached is None or cached[0] == self._version or cached[2] is not ref or cached[3] != ref._version:
            return self._read_row_sums()[:, 0]
        driven = read_kernel.driven(x2)
        if 4 * int(driven.sum()) >= len(driven) or self.conductance_s.dtype != torch.float64:
            return self._read_row_sums()[:, 0]
        return booking_kernel.input_sums(self.conductance_s, driven) + cached[4]

    def _read_row_sums(self):
        """Each input row's conductances summed over both arrays, ``(inputs, 1)`` (the read law's
        layout), computed once per programming; the reference array's own sum is kept while that
        array is unchanged (a reference array is programmed once)."""
        cached, ref = self._read_sums, self.reference_s
        if cached is not None and cached[0] == self._version:
            return cached[1]
        total = booking_kernel.input_sums if kernel.enabled(ref) and ref.dtype == torch.float64 else (lambda g: g.sum(0))
        if cached is not None and cached[2] is ref and cached[3] == ref._version:
            ref_sum = cached[4]
        else:
            ref_sum = total(ref)
        sums = (total(self.conductance_s) + ref_sum)[:, None]
        self._read_sums = (self._version, sums, ref, ref._version, ref_sum)
        return sums

    def _operation_costs(self):
        """The scheme's shared operation costs at the array's present mean state (None: pulses pay their full table).

        The cells an operation does not select are the cells of its lines; their mean state is
        estimated by the mean normalised state of every device of the layer (one reduction and
        one host read per booking)."""
        costs = self.tile.operation_costs
        if costs is None or costs.by_state is None:
            return costs
        model = self.tile.device
        arrays = [self.conductance_s] if self.tile.mapping.mapping != "differential" else [self.conductance_s,
                                                                                           self.reference_s]
        if kernel.enabled(arrays[0]) and arrays[0].dtype == torch.float64:  # one compiled pass each, a fixed order
            mean = sum(booking_kernel.total(g) for g in arrays) / sum(g.numel() for g in arrays)
        else:
            g = torch.stack(arrays) if len(arrays) > 1 else arrays[0]
            mean = fixed_order_sum(g) / g.numel()  # torch's mean of > 32768 devices depends on the thread count
        return costs.at_state(float((mean - model.g_min_s) / (model.g_max_s - model.g_min_s)))

    def _books_counts(self):
        """Whether a stochastic update's booking needs each device's coincidence counts (serial pulses or
        row operations costed): the event kernel then counts them on the way."""
        return (self.ledger is not None and self.tile.operation_costs is not None
                and self.tile.energy.scheme != "parallel_stochastic")

    def _book_update_scheme(self, streams, compiled, booked):
        """Shared energy of the circuit operations that applied one stochastic update (:mod:`memcosim.training.schemes`);
        ``booked``: the event kernel's :class:`~memcosim.training.hardware_order.Booked` (its coincidence counts)."""
        energy = self.tile.energy
        pair = self.tile.mapping.mapping == "differential"
        if energy.scheme == "parallel_stochastic":
            costs = self._operation_costs()
            self._book_shared(kernel_ops.slots_shared(streams, costs, pair) if compiled else costs.slots_j(streams, pair=pair))
        elif self._books_counts():  # row operations, or serial pulses: from the kernel's counts
            self._book_operations(booked.up, booked.down, from_streams=True)

    def _book_operations(self, up, down, from_streams=False):
        """Shared energy of the operations that apply ``up`` and ``down`` pulse counts: row operations, or serial
        pulses when ``from_streams`` (a stochastic update in hardware order; otherwise :meth:`_pulse_at` books them)."""
        energy = self.tile.energy
        if self.ledger is None or self.tile.operation_costs is None or (energy.scheme == "serial" and not from_streams):
            return
        costs, pair = self._operation_costs(), self.tile.mapping.mapping == "differential"
        if energy.scheme == "serial":
            shared = costs.pulses_j(up, down) + (costs.pulses_j(down, up) if pair else 0.0)
            self._book_shared(shared)
            return
        if kernel.enabled(up):
            index = torch.nonzero((up + down).reshape(-1), as_tuple=True)[0]
            self._book_shared(kernel_ops.row_operations_shared(index, up.reshape(-1)[index].to(torch.float64),
                                                           down.reshape(-1)[index].to(torch.float64), up.shape, costs, pair))
            return
        shared = costs.row_operations_j(up, "up") + costs.row_operations_j(down, "down")
        if pair:  # the negative array takes the opposite counts
            shared = shared + costs.row_operations_j(down, "up") + costs.row_operations_j(up, "down")
        self._book_shared(shared)

    def _book_streams(self, streams, booked, compiled):
        """Book one stochastic update applied in hardware order: the pulses' energies and counts ``booked``
        (the event kernel's :class:`~memcosim.training.hardware_order.Booked`), its operations and periphery."""
        if self.ledger is None:
            return
        self.ledger.add_pulses(self.name, booked[:3], booked.pulses)
        self._book_update_scheme(streams, compiled, booked)
        if self.tile.energy.periphery is not None:
            pair = self.tile.mapping.mapping == "differential"
            self.ledger.add_periphery("update", *periphery.stream_update_cost(
                self.tile.energy.periphery, streams, self.tile.device.width_s, 2 if pair else 1), layer=self.name)

    def _book_pulses_at(self, index, n):
        """Book the periphery and the row operations of signed pulse counts ``n`` applied at flat ``index``."""
        if self.ledger is not None and self.tile.energy.periphery is not None:
            self._book_periphery_counts(index, n)
        if self.ledger is not None and self.tile.energy.scheme == "row_parallel":
            if kernel.enabled(n):  # sparse, compiled
                n64 = n.to(torch.float64)
                self._book_shared(kernel_ops.row_operations_shared(index, n64.clamp(min=0), (-n64).clamp(min=0),
                                                               self.conductance_s.shape, self._operation_costs(),
                                                               self.tile.mapping.mapping == "differential"))
                return
            dense = torch.zeros(self.conductance_s.shape, dtype=torch.float64, device=n.device)
            dense.view(-1)[index] = n.to(torch.float64)
            self._book_operations(dense.clamp(min=0), (-dense).clamp(min=0))

    def _book_shared(self, shared):
        """Book operation energy that no single pulse owns: half-selected cells, wires and drivers (J, ``(2,)``)."""
        self.ledger.add_pulses(self.name, (0.0, shared[0], shared[1]), 0)  # no selected cell, no pulse of its own

    def _book_periphery_counts(self, index, n):
        """The line drivers and latency of signed pulse counts ``n`` applied to the devices at flat ``index``."""
        energy = self.tile.energy
        scheme = "serial" if energy.scheme == "serial" else "row_parallel"
        arrays = 2 if self.tile.mapping.mapping == "differential" else 1
        if kernel.enabled(n):  # one compiled pass; whole numbers, so the very same numbers
            slots, total = kernel_ops.count_slots(index, n, self.in_features)
            self.ledger.add_periphery("update", *periphery.count_cost(
                energy.periphery, total, slots if scheme == "row_parallel" else None, self.tile.device.width_s, arrays),
                layer=self.name)
            return
        self.ledger.add_periphery("update", *periphery.count_update_cost(
            energy.periphery, index % self.in_features, n.clamp(min=0), (-n).clamp(min=0), self.in_features, scheme,
            self.tile.device.width_s, arrays), layer=self.name)

    def book_digital_update(self, words):
        """Book one digital read-add-write of ``words`` accumulator or buffer entries (mixed
        precision's accumulator, Tiki-Taka's H), when the tile has a periphery."""
        if self.ledger is not None and self.tile.energy.periphery is not None:
            self.ledger.add_periphery("update", *periphery.accumulator_cost(self.tile.energy.periphery, words),
                                      layer=self.name)

    def _book_pulsed_at(self, g0, g1, n):
        """Book signed pulse counts ``n`` that moved devices ``g0 -> g1`` (siemens, flat): their write
        energy and, under a serial scheme, the operations no pulse owns."""
        self._book_moves(g0, g1, n)
        if self.ledger is not None and self.tile.energy.scheme == "serial" and self.tile.operation_costs is not None:
            self._book_shared(self._operation_costs().pulses_j(n.clamp(min=0), (-n).clamp(min=0)))

    def _book_moves(self, g0, g1, n):
        """Book the write energy of signed pulse counts ``n`` that moved conductances ``g0 -> g1``
        (siemens, flat): the up pulses, then the down pulses (each when some device took it)."""
        if self.ledger is None:
            return
        if kernel.enabled(g0) and g0.dtype == torch.float64:  # compiled, one pass, added in a fixed order
            model = self.tile.device
            for booked in booking_kernel.write_energy_split(g0, g1, n.to(torch.float64), self.tile.write_energy,
                                                            model.g_min_s, model.g_max_s - model.g_min_s):
                if booked is not None:
                    self._book_pulses(*booked)
            return
        for direction, mask in (("up", n > 0), ("down", n < 0)):
            if bool(mask.any()):
                self._book(g0[mask], g1[mask], n[mask].abs(), direction)

    def _book(self, g0, g1, n, direction, calibration=False):
        if self.ledger is None and not calibration:
            return
        energies = tuple(fixed_order_sum(t) for t in self._write_terms(g0, g1, n, direction))
        self._book_pulses(energies, n.sum().to(torch.int64), calibration)

    def _write_terms(self, g0, g1, n, direction):
        """Each device's write energies (J, 3 categories, flattened) of ``n`` pulses of ``direction``
        moving conductances ``g0 -> g1`` (siemens)."""
        model = self.tile.device
        span = model.g_max_s - model.g_min_s
        x0, x1 = (g0 - model.g_min_s) / span, (g1 - model.g_min_s) / span
        return self.tile.write_energy.terms_j(x0, x1, n, direction)

    def _book_pulses(self, energies, count, calibration=False):
        """Book ``count`` pulses (int64 tensor) costing ``energies`` (J, 3 categories)."""
        if self.ledger is not None:
            self.ledger.add_pulses(self.name, energies, count, calibration=calibration)
            return
        # programming before a ledger is attached: kept until one is (``CrossbarLayer.ledger``)
        if self._pending_calibration is not None:
            before, pulses = self._pending_calibration
            energies, count = tuple(a + b for a, b in zip(before, energies)), pulses + count
        self._pending_calibration = (energies, count)
