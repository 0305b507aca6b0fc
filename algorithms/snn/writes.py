"""How a spiking rule's weight changes reach a tile: the pulse schedule and the depression mode.

The engine reads the weights once per write period (``tile.read_weights``, booked; exact and
free on an IdealTile) for the rule's weight dependence, and sends the accumulated change to
the tile (:func:`apply_delta`). On a tile with device pulses the change first waits in a
digital accumulator until it is worth a pulse (:class:`PulseSchedule`); then potentiation
becomes partial-SET pulses on G+ and depression either SET pulses on G− (``depression:
'pair'``) or a RESET of both devices and a re-programming of the lowered weight
(``'reset'``, :meth:`AbstractTile.reset_and_reprogram`). Every pulse, RESET, verify read and
weight read is booked in the tile's ledger.
"""

from __future__ import annotations

from typing import Literal

import equinox as eqx
import jax.numpy as jnp

from ...crossbar import AbstractTile
from ...hw_configs import InvalidParameter, param
from .bounds import check_bounds

__all__ = ["DEPRESSIONS", "Depression", "PulseSchedule", "apply_delta"]

Depression = Literal["pair", "reset"]
#: The depression modes: SET pulses on G−, or RESET-and-reprogram.
DEPRESSIONS = ("pair", "reset")


class PulseSchedule(eqx.Module):
    """When accumulated weight changes are written to a tile (the documented pulse schedule).

    A device pulse moves a PCM weight by a coarse, noisy step (``tile.dw_pulse``, 7.5 % of
    w_max on pcm_256), far more than one STDP event asks for. The schedule keeps the requested
    change of every synapse in a digital accumulator, as in mixed-precision in-memory training
    (Nandakumar et al., Front. Neurosci. 2020), and writes a synapse only once its accumulated
    change reaches ``threshold_pulses`` nominal pulses: it then sends round(change / dw_pulse)
    pulses (at least one; the tile caps them at the chip's ``max_pulses``) and keeps the
    remainder. ``threshold_pulses = 0`` sends every change as it is, and the tile rounds it
    (stochastically on pcm_256). Tiles with exact weights (IdealTile) always get the change as
    it is. The accumulator's own (digital) energy is not booked.

    ``max_pulses_per_write`` (> 0) caps the pulses one write sends to a synapse below the
    chip's cap; the rest of a larger change waits for the next write. The device model fires a
    tile's pulses one round at a time for every device, as many rounds as the largest count,
    so a few synapses that owe many pulses make a write of a large tile slow; writes spaced by
    several windows accumulate such counts.
    """

    threshold_pulses: float = param(
        "a synapse is written once its accumulated change reaches this many nominal pulses "
        "(0: every change as it is)",
        ge=0.0,
        default=1.0,
        static=True,
    )
    max_pulses_per_write: int = param(
        "at most this many pulses per synapse and write, the rest waits (0: only the chip's cap)",
        ge=0,
        default=0,
        static=True,
    )

    def __check_init__(self):
        check_bounds(self)
        if self.max_pulses_per_write and self.threshold_pulses == 0:
            raise InvalidParameter(
                "max_pulses_per_write", "needs threshold_pulses > 0 (changes must accumulate)"
            )

    def split(self, total, quantum):
        """(request, rest): what to write now and what stays in the accumulator.

        ``total`` is the accumulated change, ``quantum`` the weight change of one nominal
        pulse (``tile.dw_pulse``; None: an exact tile, everything is written).
        ``request + rest == total``; ``request`` is a whole number of quanta.
        """
        if quantum is None or self.threshold_pulses == 0:
            return total, jnp.zeros_like(total)
        size = jnp.abs(total) / quantum
        n = jnp.where(size >= self.threshold_pulses, jnp.maximum(jnp.round(size), 1.0), 0.0)
        if self.max_pulses_per_write:
            n = jnp.minimum(n, float(self.max_pulses_per_write))
        request = jnp.sign(total) * n * quantum
        return request, total - request


def apply_delta(
    tile: AbstractTile,
    pending,
    W_read,
    t,
    *,
    key,
    depression: Depression = "pair",
    schedule: PulseSchedule | None = None,
):
    """Send the accumulated weight change ``pending`` (rows, cols) to the tile at chip time t (s).

    Args:
        pending: changes accumulated and not yet written (the pulse schedule's accumulator).
        W_read: the weights the changes were computed from (read from the tile).
        depression: 'pair': all writes go through ``tile.update`` (on a PCMTile SET pulses on
            G+ for increases and on G− for decreases). 'reset': increases as above; a synapse
            to be lowered goes through ``tile.reset_and_reprogram`` with its whole
            accumulated change, which clears its accumulator. On an exact tile both are the
            same update.
        schedule: the pulse schedule (default :class:`PulseSchedule()`).
    Returns:
        (tile, pending) with the changes still waiting in the accumulator.
    """
    if depression not in DEPRESSIONS:
        raise ValueError(f"apply_delta: depression must be 'pair' or 'reset', got {depression!r}")
    schedule = PulseSchedule() if schedule is None else schedule
    request, rest = schedule.split(pending, tile.dw_pulse)
    if depression == "pair":
        return tile.update(request, t, key=key), rest
    lowered = request < 0
    tile = tile.reset_and_reprogram(jnp.where(lowered, pending, request), W_read, t, key=key)
    return tile, jnp.where(lowered, 0.0, rest)
