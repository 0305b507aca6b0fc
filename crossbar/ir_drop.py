"""First-order IR drop along the word and bit lines."""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["ir_drop_attenuation"]


def ir_drop_attenuation(g_S, wire_resistance_Ohm: float):
    """Factor (≤ 1) by which wire resistance shrinks each device's effective conductance.

    Inputs drive the rows from column 0; outputs are sensed at the last row. The device at
    (i, j) sees R_ij = r (j + 1 + rows - i) of wire in series, so its effective conductance
    is g / (1 + g R_ij). First order: the voltage drop caused by other devices' currents on
    shared wire (current crowding) is neglected; it matters when g · r · rows · cols ≳ 0.1.

    Args:
        g_S: conductances (..., rows, cols) in S.
        wire_resistance_Ohm: resistance of one wire segment between neighbouring cells.
    """
    rows, cols = g_S.shape[-2:]
    i = jnp.arange(rows, dtype=jnp.float32)[:, None]
    j = jnp.arange(cols, dtype=jnp.float32)[None, :]
    series_Ohm = wire_resistance_Ohm * (j + 1.0 + rows - i)
    return 1.0 / (1.0 + g_S * series_Ohm)
