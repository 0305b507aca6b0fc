"""The multi-group "weather" workload: groups of stations driven by latent rain events.

In the spirit of the weather experiment of Moraitis et al. (IJCNN 2017), where FSTDP on PCM
hardware found which stations' rain records go together: ``n_groups`` groups of inputs
("stations"), each group under its own latent event process ("rain over a region"). Events
start as a Poisson process (probability λ dt per step) and last ``duration_s``; while an event
of its group lasts, a station fires at ``event_input_rate_Hz`` instead of its background rate.
The groups differ in their background rates (e.g. 5, 10, 20, 40 Hz), so the rates alone point
a rate-sensitive learner (plain STDP) at the busiest group, while the timing code (stations of
a group firing together during events) is what tells the groups apart.

A winner-take-all population with as many neurons as groups should learn one group each;
:mod:`memxbar.runtime.scores` scores that from the learned weights.

The latent process is a pure function of the step index and of the source's own
``latent_key`` (fixed for a run), not of the per-window key the engine passes: an event that
spans two update windows is the same event in both, whatever the windows or chunks.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, UInt32

from ...algorithms.snn.sources import AbstractSpikeSource
from ...devices.random import key_words, threefry2x32, uniform24, unit_uniform

__all__ = ["WeatherSpikes"]


class WeatherSpikes(AbstractSpikeSource):
    """Stations in groups, each group driven by a latent Poisson process of events.

    Per step of dt an event of group g starts with probability p_g = λ_g dt (onsets are
    independent across steps and groups) and is active for the D_g = round(duration_g / dt)
    steps from its onset (overlapping events merge). A station of group g fires with
    probability ``event_input_rate_Hz[g]`` dt in a step where an event of its group is active
    and ``rates_Hz`` dt otherwise, independently of the other stations given the events.

    Attributes:
        rates_Hz: background rate of each input (n_inputs,), Hz.
        group: group of each input (n_inputs,), 0 … n_groups − 1.
        event_rate_Hz: onset rate λ_g of each group's events (n_groups,), Hz.
        event_input_rate_Hz: rate of the group's inputs during an event (n_groups,), Hz.
        event_duration_s: duration of one event of each group, s (static).
        latent_key: the two key words of the latent process (fixed for a run).
    """

    rates_Hz: Float[Array, " n"]
    group: Int[Array, " n"]
    event_rate_Hz: Float[Array, " g"]
    event_input_rate_Hz: Float[Array, " g"]
    latent_key: UInt32[Array, " 2"]
    event_duration_s: tuple[float, ...] = eqx.field(static=True)
    n_inputs: int = eqx.field(static=True)
    n_groups: int = eqx.field(static=True)

    @classmethod
    def create(
        cls,
        rates_Hz,
        groups,
        *,
        event_rate_Hz,
        event_duration_s,
        event_input_rate_Hz,
        key,
    ) -> WeatherSpikes:
        """Stations with background ``rates_Hz`` (n,) in ``groups`` (n,) ints 0 … G − 1.

        Args:
            event_rate_Hz: onset rate of each group's events (G,) or a scalar, Hz (≥ 0).
            event_duration_s: duration of one event (G,) or a scalar, s (> 0).
            event_input_rate_Hz: rate of a station during its group's event (G,) or a scalar,
                Hz (≥ 0).
            key: PRNG key of the latent process (the events of a run).

        Raises:
            ValueError: naming the argument, for shapes, negative rates or durations, or a
                group without stations.
        """
        rates = np.asarray(rates_Hz, np.float64)
        group = np.asarray(groups)
        if rates.ndim != 1 or rates.size == 0:
            raise ValueError(
                f"WeatherSpikes: rates_Hz must be a non-empty 1-d array, got {rates.shape}"
            )
        if not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise ValueError("WeatherSpikes: rates_Hz must be finite and ≥ 0")
        if group.shape != rates.shape or not np.issubdtype(group.dtype, np.integer):
            raise ValueError(
                f"WeatherSpikes: groups must be {rates.shape} integers, got {group.shape}"
            )
        if np.any(group < 0):
            raise ValueError("WeatherSpikes: groups must be ≥ 0")
        n_groups = int(group.max()) + 1
        missing = sorted(set(range(n_groups)) - set(group.tolist()))
        if missing:
            raise ValueError(f"WeatherSpikes: groups {missing} have no stations")

        def per_group(name, value, positive=False):
            v = np.broadcast_to(np.asarray(value, np.float64), (n_groups,)).copy()
            bad = ~np.isfinite(v) | ((v <= 0) if positive else (v < 0))
            if np.any(bad):
                bound = "> 0" if positive else "≥ 0"
                raise ValueError(f"WeatherSpikes: {name} must be finite and {bound}, got {value!r}")
            return v

        try:
            onset = per_group("event_rate_Hz", event_rate_Hz)
            duration = per_group("event_duration_s", event_duration_s, positive=True)
            during = per_group("event_input_rate_Hz", event_input_rate_Hz)
        except ValueError as err:
            if "broadcast" in str(err):
                raise ValueError(
                    f"WeatherSpikes: event settings must be scalars or ({n_groups},) arrays"
                ) from None
            raise
        return cls(
            rates_Hz=jnp.asarray(rates, jnp.float32),
            group=jnp.asarray(group, jnp.int32),
            event_rate_Hz=jnp.asarray(onset, jnp.float32),
            event_input_rate_Hz=jnp.asarray(during, jnp.float32),
            latent_key=jnp.stack(key_words(key)),
            event_duration_s=tuple(float(d) for d in duration),
            n_inputs=int(rates.size),
            n_groups=n_groups,
        )

    def event_steps(self, dt_s: float) -> tuple[int, ...]:
        """Duration of each group's events in steps of ``dt_s`` (at least one step)."""
        return tuple(max(1, round(d / dt_s)) for d in self.event_duration_s)

    def _checked_rates(self, dt_s: float):
        """(background, event) rates, with a run-time error if one exceeds 1/dt."""
        fastest = jnp.maximum(jnp.max(self.rates_Hz), jnp.max(self.event_input_rate_Hz))
        fastest = jnp.maximum(fastest, jnp.max(self.event_rate_Hz))
        return eqx.error_if(
            (self.rates_Hz, self.event_input_rate_Hz),
            fastest * dt_s > 1.0,
            "WeatherSpikes: a rate exceeds 1/dt, more than one spike per time step",
        )

    def events(self, start_step, n_steps: int, dt_s: float) -> Float[Array, "steps g"]:
        """Whether each group's event is active (n_steps, n_groups), 0/1 float32.

        A pure function of the absolute steps and ``latent_key``: any split of a run into
        windows sees the same events. Onsets before step 0 count too (the process is
        stationary from the first step).
        """
        lengths = self.event_steps(dt_s)
        span = max(lengths)
        # Onsets of the steps start − span + 1 … start + n_steps − 1, per group; the step
        # index (two's complement for negative steps) and the group are the cipher's counter.
        steps = jnp.asarray(start_step, jnp.int32) - (span - 1) + jnp.arange(n_steps + span - 1)
        counter = jax.lax.bitcast_convert_type(steps, jnp.uint32)[:, None]
        groups = jnp.arange(self.n_groups, dtype=jnp.uint32)[None, :]
        k0, k1 = self.latent_key[0], self.latent_key[1]
        bits, _ = threefry2x32(k0, k1, counter + jnp.zeros_like(groups), groups + 0 * counter)
        u = unit_uniform(bits)
        onsets = (u < self.event_rate_Hz * dt_s).astype(jnp.int32)
        # Active at step t when an onset fell in the last D_g steps: a difference of cumsums.
        total = jnp.concatenate([jnp.zeros((1, self.n_groups), jnp.int32), jnp.cumsum(onsets, 0)])
        end = jnp.arange(n_steps) + span  # index in ``total`` just after step t
        length = jnp.asarray(lengths, jnp.int32)[None, :]
        recent = total[end] - jnp.take_along_axis(total, end[:, None] - length, axis=0)
        return (recent > 0).astype(jnp.float32)

    def sample(self, start_step, n_steps, dt_s, *, key):
        background, during = self._checked_rates(dt_s)
        active = self.events(start_step, n_steps, dt_s)[:, self.group]
        p = (background + active * (during[self.group] - background)) * dt_s
        return (uniform24(key, (n_steps, self.n_inputs)) < p).astype(jnp.float32)

    def event_probability(self, dt_s: float) -> np.ndarray:
        """Stationary probability that a group's event is active in a step, (n_groups,).

        No onset in the last D steps: 1 − (1 − λ dt)^D.
        """
        p = np.asarray(self.event_rate_Hz, np.float64) * dt_s
        return 1.0 - (1.0 - p) ** np.asarray(self.event_steps(dt_s))

    def mean_rate_Hz(self, dt_s: float) -> np.ndarray:
        """Mean rate of each input (n_inputs,), Hz: background and event rates mixed."""
        active = self.event_probability(dt_s)[np.asarray(self.group)]
        rates = np.asarray(self.rates_Hz, np.float64)
        during = np.asarray(self.event_input_rate_Hz, np.float64)[np.asarray(self.group)]
        return rates + active * (during - rates)
