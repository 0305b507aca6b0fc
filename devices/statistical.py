"""The statistical PCM model for programmed weights and inference (Nandakumar et al. 2019)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from ..hw_configs import section
from .abstract import AbstractDevice
from .conductance import ConductanceRange
from .drift import Drift
from .energy import DeviceEnergy
from .faults import Faults
from .programming_noise import ProgrammingNoise
from .read_noise import ReadNoise
from .state import DeviceState

__all__ = ["StatisticalPCM"]


class StatisticalPCM(AbstractDevice):
    """Programming noise, conductance-dependent drift and 1/f read noise of PCM.

    Fitted on IBM's one-million-device doped-GST array (Nandakumar et al., ICECS 2019; Joshi
    et al., Nat. Commun. 2020) and statistically identical to aihwkit's ``PCMLikeNoiseModel``.
    Devices are written only by program-and-verify (:meth:`program`); a RESET is a write to
    ``g_min``. For pulse-by-pulse learning use :class:`~memxbar.devices.PulsePCM`.
    """

    description: str = eqx.field(static=True)
    conductance: ConductanceRange = section("conductance window")
    programming_noise: ProgrammingNoise = section("programming noise of program-and-verify")
    drift: Drift = section("drift exponent statistics")
    read_noise: ReadNoise = section("1/f read noise")
    energy: DeviceEnergy = section("energy per operation")
    faults: Faults = section("stuck devices and endurance")

    def reset_level_S(self):
        return self.conductance.g_min_S

    def _fabricate(self, shape, *, key):
        del key
        ones = jnp.ones(shape)
        return ones, self.conductance.g_max_S * ones, self.conductance.g_min_S * ones

    def set_pulses(self, state: DeviceState, n, t, *, key) -> DeviceState:
        raise NotImplementedError(
            "the statistical PCM model has no pulse-level SET response; write devices with "
            "program() or use a pulse-level preset such as 'pcm_gst_pulse'"
        )

    def reset(self, state: DeviceState, mask, t, *, key) -> DeviceState:
        """Write the masked devices to ``g_min`` (program-and-verify, with programming noise)."""
        return self.program(state, self.conductance.g_min_S, t, key=key, mask=mask)
