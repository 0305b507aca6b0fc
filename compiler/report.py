"""The mapping report of a Program: tiles, utilisation, estimated energy and latency.

The energy estimates are the figures E_inference and E_update of
:mod:`memxbar.crossbar.energy_figures`, the quantities a run measures under the same names, from
a first-order model of the chip stated in :data:`ASSUMPTIONS` and printed with every report:

Per inference, each block performs ``mvms_per_inference`` matrix-vector products (MVM vectors)
of its matrix. One vector on a block of r rows and c cols costs

- r DAC and c ADC conversions at the chip's energy per conversion,
- 2·N·r·c device reads (N devices per side of a differential pair), each dissipating
  V_read²·⟨x²⟩·t_read·G_mean with ⟨x²⟩ = 1/3 (inputs uniform on the full DAC range) and
  G_mean = g_weight_max/4,

and takes t_read + ceil(c / ADCs per tile)·t_conversion. Blocks of a layer run in parallel,
the vectors of one block and the layers run in sequence.

A synaptic update event (a synapse whose requested change fires at least one pulse) costs
:data:`PULSES_PER_UPDATE_EVENT` SET pulses (``set_pulse_J`` of the device preset) and one SET
slot of time: the small-update limit, where a requested change is below one pulse step and
stochastic rounding, deterministic rounding and pulse-train coincidence all fire one pulse
when they fire at all. RESET-and-reprogram depression and refreshes are not in the estimate; a
run shows them as the reset and refresh parts of its measured E_update. A full update gives
every synapse one pulse; tiles update in parallel, a tile either row by row (one SET slot per
row, columns in parallel) or, with the pulse-train scheme, all at once in
``pulse_train_length`` slots; layers update in sequence.

Ideal float tiles (a job's ``hardware.tiles: ideal``) have no devices and cost no energy: their
report shows the placement only.
"""

from __future__ import annotations

import math
from typing import Any

from ..crossbar.energy_figures import figure
from ..hw_configs import format_si
from .program import Block, Program

__all__ = [
    "ASSUMPTIONS",
    "MEAN_SQUARED_INPUT",
    "PULSES_PER_UPDATE_EVENT",
    "mapping_summary",
    "mapping_report",
]

#: ⟨x²⟩ of inputs spread uniformly over the full DAC range [-1, 1].
MEAN_SQUARED_INPUT = 1.0 / 3.0
#: Mean device conductance as a fraction of g_weight_max.
MEAN_CONDUCTANCE_FRACTION = 0.25
#: SET pulses per synaptic update event (the small-update limit, see the module docstring).
PULSES_PER_UPDATE_EVENT = 1.0

ASSUMPTIONS = (
    "each block does mvms_per_inference MVM vectors per inference (conv: one per output "
    "position; recurrent and spiking: one per time step)",
    "per vector and block of r x c: r DAC and c ADC conversions at the chip's energy per "
    "conversion",
    "per vector: 2*N*r*c device reads (N devices per side), each V_read^2 * <x^2> * t_read * "
    "G_mean with <x^2> = 1/3 (inputs uniform on the DAC range) and G_mean = g_weight_max/4",
    "latency per vector: t_read + ceil(c / ADCs per tile) * t_conversion; blocks of a layer run "
    "in parallel, vectors of a block and layers in sequence",
    "digital partial-sum additions, activations, data movement, static power and the reference "
    "reads of drift compensation (one per batch of inputs) are not counted",
    "E_update: one SET pulse (set_pulse_J of the device preset, one SET slot) per synaptic "
    "update event, the small-update limit where a requested change is below one pulse step; "
    "RESET-and-reprogram depression and refreshes are not estimated (a run measures them)",
    "full update: every synapse one SET pulse; tiles in parallel, each row by row (or all at "
    "once in pulse_train_length slots with the pulse_train scheme); layers in sequence",
)

#: What the report of ideal float tiles says instead of a device preset and energies.
IDEAL_TILES = "ideal float tiles (no devices, no energy)"


def _vector_costs(program: Program, block: Block) -> tuple[float, float, float, float]:
    """(DAC J, ADC J, device read J, latency s) of one MVM vector on ``block``."""
    chip = program.chip
    periphery = chip.periphery
    g_mean = MEAN_CONDUCTANCE_FRACTION * chip.update.g_weight_max_S
    read_per_device = (
        periphery.read_voltage_V**2 * MEAN_SQUARED_INPUT * periphery.read_pulse_s * g_mean
    )
    devices = 2 * chip.tile.devices_per_side * block.rows * block.cols
    dac = block.rows * periphery.dac.energy_J
    adc = block.cols * periphery.adc.conversion_energy_J
    latency = (
        periphery.read_pulse_s
        + math.ceil(block.cols / periphery.adc.per_tile) * periphery.adc.conversion_s
    )
    return dac, adc, devices * read_per_device, latency


def _full_update_latency(program: Program, block: Block) -> float:
    update = program.chip.update
    if update.scheme == "pulse_train":
        return update.pulse_train_length * update.set_pulse_s
    return block.rows * update.set_pulse_s


def mapping_summary(program: Program, tiles: str = "pcm") -> dict[str, Any]:
    """The mapping report as a dict (SI units: J, s; utilisation as a fraction).

    ``tiles`` is the job's tile kind: ``pcm``, or ``ideal`` (float tiles: the placement only,
    no devices, energies or latencies).

    Keys: network, chip, tiles, tiles_used, tiles_total, tile_rows, tile_cols,
    devices_per_side, dac_bits, adc_bits, utilisation, layers (layer name → type, tiles,
    synapses, utilisation, matrices), partial_sums (count of digitally added column groups),
    estimates ({figure name: J}, the energy figures compile estimates; empty for ideal tiles),
    assumptions. PCM tiles add device_preset, update_scheme, inference {dac_J, adc_J, read_J,
    energy_J, latency_s}, update_event {pulses, energy_J, latency_s}, full_update {energy_J,
    latency_s}, and per layer inference and full_update.
    """
    if tiles not in ("pcm", "ideal"):
        raise ValueError(f"tiles must be 'pcm' or 'ideal', got {tiles!r}")
    chip = program.chip
    summary: dict[str, Any] = {
        "network": program.network.name,
        "chip": chip.description,
        "tiles": tiles,
        "tiles_used": program.tiles_used,
        "tiles_total": chip.tile.count,
        "tile_rows": chip.tile.rows,
        "tile_cols": chip.tile.cols,
        "devices_per_side": chip.tile.devices_per_side,
        "dac_bits": chip.periphery.dac.bits,
        "adc_bits": chip.periphery.adc.bits,
        "utilisation": program.utilisation(),
        "layers": {},
        "partial_sums": len(program.partial_sums()),
        "estimates": {},
        "assumptions": (),
    }
    for layer in program.network.layers:
        matrices = {}
        for matrix, shape in layer.matrices().items():
            blocks = program.blocks_of(layer.name, matrix)
            matrices[matrix] = {
                "shape": shape,
                "blocks": len(blocks),
                "row_blocks": len({b.row_start for b in blocks}),
                "col_blocks": len({b.col_start for b in blocks}),
                "mvms_per_inference": layer.mvms_per_inference()[matrix],
            }
        summary["layers"][layer.name] = {
            "type": layer.type,
            "tiles": len(program.blocks_of(layer.name)),
            "synapses": sum(b.cells for b in program.blocks_of(layer.name)),
            "utilisation": program.utilisation(layer.name),
            "matrices": matrices,
        }
    if tiles == "pcm":
        _add_costs(program, summary)
    return summary


def _add_costs(program: Program, summary: dict[str, Any]) -> None:
    """Energy and latency estimates of PCM tiles, into ``summary`` (see :func:`mapping_summary`)."""
    set_pulse_J = float(program.device.energy.set_pulse_J)
    set_slot_s = program.chip.update.set_pulse_s
    totals = {"dac_J": 0.0, "adc_J": 0.0, "read_J": 0.0, "energy_J": 0.0, "latency_s": 0.0}
    full_energy = full_latency = 0.0
    for layer in program.network.layers:
        entry = summary["layers"][layer.name]
        energy = {"dac_J": 0.0, "adc_J": 0.0, "read_J": 0.0}
        latency = update_latency = 0.0
        for matrix, info in entry["matrices"].items():
            n = info["mvms_per_inference"]
            for block in program.blocks_of(layer.name, matrix):
                dac, adc, read, t = _vector_costs(program, block)
                energy["dac_J"] += n * dac
                energy["adc_J"] += n * adc
                energy["read_J"] += n * read
                latency = max(latency, n * t)
                update_latency = max(update_latency, _full_update_latency(program, block))
        energy["energy_J"] = energy["dac_J"] + energy["adc_J"] + energy["read_J"]
        entry["inference"] = {**energy, "latency_s": latency}
        full = entry["synapses"] * set_pulse_J
        entry["full_update"] = {"energy_J": full, "latency_s": update_latency}
        for key, value in energy.items():
            totals[key] += value
        totals["latency_s"] += latency
        full_energy += full
        full_latency += update_latency
    update_event = {
        "pulses": PULSES_PER_UPDATE_EVENT,
        "energy_J": PULSES_PER_UPDATE_EVENT * set_pulse_J,
        "latency_s": set_slot_s,
    }
    summary.update(
        device_preset=program.device_preset,
        update_scheme=program.update_scheme,
        inference=totals,
        update_event=update_event,
        full_update={"energy_J": full_energy, "latency_s": full_latency},
        estimates={"E_update": update_event["energy_J"], "E_inference": totals["energy_J"]},
        assumptions=ASSUMPTIONS,
    )


def _chip_line(s: dict[str, Any]) -> str:
    per_side = s["devices_per_side"]
    devices = f"{per_side} device{'s' if per_side > 1 else ''} per side"
    return (
        f"chip: {s['tiles_total']} tiles of {s['tile_rows']}x{s['tile_cols']} synapses "
        f"({devices}), {s['dac_bits']}-bit DAC, {s['adc_bits']}-bit ADC"
    )


def mapping_report(program: Program, tiles: str = "pcm") -> str:
    """A human-readable mapping report: tiles, utilisation, energy and latency estimates.

    ``tiles``: the job's tile kind; ``ideal`` float tiles get the placement only.
    """
    s = mapping_summary(program, tiles)
    pcm = tiles == "pcm"
    lines = [
        f"network '{s['network']}' on chip '{s['chip']}'",
        _chip_line(s),
        f"device preset: {s['device_preset']}, update scheme: {s['update_scheme']}"
        if pcm
        else f"tiles: {IDEAL_TILES}; the placement is the chip's",
        f"tiles used: {s['tiles_used']} of {s['tiles_total']}",
        f"utilisation: {100 * s['utilisation']:.1f} % of the cells of the tiles used",
        f"partial sums added digitally: {s['partial_sums']} column groups",
        "",
    ]
    header = ("layer", "type", "matrices (rows x cols: blocks)", "tiles", "util")
    if pcm:
        header += ("E/inference", "t/inference", "E/full update")
    rows = []
    for name, layer in s["layers"].items():
        matrices = ", ".join(
            f"{m} {v['shape'][0]}x{v['shape'][1]}: {v['row_blocks']}x{v['col_blocks']}"
            for m, v in layer["matrices"].items()
        )
        row = (
            name,
            layer["type"],
            matrices,
            str(layer["tiles"]),
            f"{100 * layer['utilisation']:.1f} %",
        )
        if pcm:
            row += (
                format_si(layer["inference"]["energy_J"], "J"),
                format_si(layer["inference"]["latency_s"], "s"),
                format_si(layer["full_update"]["energy_J"], "J"),
            )
        rows.append(row)
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if not pcm:
        return "\n".join(lines)
    inf, event = s["inference"], s["update_event"]
    set_pulse_J = float(program.device.energy.set_pulse_J)
    lines += [
        "",
        "estimated energy figures (definitions: memxbar --help):",
        f"  E_inference  {format_si(inf['energy_J'], 'J'):10s}  {figure('E_inference').meaning}",
        f"  {'':11s}  = DAC {format_si(inf['dac_J'], 'J')} + ADC {format_si(inf['adc_J'], 'J')} + "
        f"device reads {format_si(inf['read_J'], 'J')}; latency {format_si(inf['latency_s'], 's')}",
        *(
            [f"  {'':11s}  (a spiking population's inference: its steps with every input spiking)"]
            if any(layer["type"] == "spiking" for layer in s["layers"].values())
            else []
        ),
        f"  E_update     {format_si(event['energy_J'], 'J'):10s}  {figure('E_update').meaning}",
        f"  {'':11s}  = {event['pulses']:g} SET pulse of {format_si(set_pulse_J, 'J')}; "
        f"latency {format_si(event['latency_s'], 's')}",
        f"full update (every synapse one SET pulse): energy "
        f"{format_si(s['full_update']['energy_J'], 'J')}, latency "
        f"{format_si(s['full_update']['latency_s'], 's')}",
        "",
        "assumptions:",
        *(f"  - {a}" for a in s["assumptions"]),
    ]
    return "\n".join(lines)
