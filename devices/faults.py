"""Manufacturing faults and endurance wear-out."""

from __future__ import annotations

from typing import Literal

import equinox as eqx

from ..hw_configs import InvalidParameter, param


class Faults(eqx.Module):
    """Stuck devices from fabrication and wear-out after a number of write cycles.

    A device is stuck-at-SET with probability ``p_stuck_set`` and stuck-at-RESET with
    ``p_stuck_reset`` from the start; a healthy device wears out once it has seen
    ``endurance_cycles`` write cycles and then sticks at ``worn_out_state``.
    """

    p_stuck_set: float = param(
        "probability a device is stuck at its maximum conductance", ge=0.0, le=1.0
    )
    p_stuck_reset: float = param("probability a device is stuck at its RESET level", ge=0.0, le=1.0)
    endurance_cycles: float = param("write cycles before a device wears out (count)", ge=1.0)
    worn_out_state: Literal["stuck_set", "stuck_reset"] = param(
        "where a worn-out device sticks", static=True
    )

    def __check_init__(self):
        total = self.p_stuck_set + self.p_stuck_reset
        if isinstance(total, float) and total > 1.0:
            raise InvalidParameter(
                "p_stuck_reset", f"p_stuck_set + p_stuck_reset must not exceed 1, got {total:g}"
            )
