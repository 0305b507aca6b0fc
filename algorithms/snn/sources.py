"""Generic presynaptic spike trains for the spiking engine, generated a window at a time.

A source is a small pytree with ``n_inputs`` and ``sample(start_step, n_steps, dt_s, *, key)``
→ (n_steps, n_inputs) float32 of 0/1 spikes. The engine calls it once per update window with a
key derived from the window's index, so a run is the same whatever its chunking, and nothing of
size (steps × inputs) outlives one window (64 seeds of a 50 s run vmap without memory trouble).

Time is discrete: in each step of ``dt_s`` an input fires at most once, with probability
p = r dt (so the mean rate is exactly r; a continuous Poisson process would put
1 − exp(−r dt) into "at least one spike"). The spike trains are Bernoulli processes that
converge to Poisson processes as dt → 0.

Random numbers are the cost of a spike source: uniforms come from
:func:`memxbar.devices.random.uniform24` (the Threefry-2x32 cipher written in jnp, two 32-bit
words per cipher call, fused by XLA), about 3.5× faster on CPU than ``jax.random.uniform``.
Workload-specific sources (the weather stations) live with their workloads in the runtime.
"""

# No ``from __future__ import annotations``: equinox reads AbstractVar annotations as objects.
import abc
import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ...devices.random import uniform24

__all__ = ["AbstractSpikeSource", "PoissonSpikes", "RateCodedImages", "TimedPatterns"]


class AbstractSpikeSource(eqx.Module):
    """Presynaptic spike trains of ``n_inputs`` inputs."""

    n_inputs: eqx.AbstractVar[int]

    @abc.abstractmethod
    def sample(self, start_step, n_steps: int, dt_s: float, *, key) -> Float[Array, "steps n"]:
        """Spikes (n_steps, n_inputs) float32 in {0, 1} of the steps from ``start_step`` on."""


def _check_rates(rates, dt_s: float, what: str):
    """``rates`` (Hz), with a run-time error if one exceeds 1/dt_s (more than one spike per
    step); ``what`` names the source in the message."""
    return eqx.error_if(
        rates,
        jnp.any(rates * dt_s > 1.0),
        f"{what}: a rate exceeds 1/dt, more than one spike per time step",
    )


class PoissonSpikes(AbstractSpikeSource):
    """Independent Poisson inputs, optionally in groups correlated through a "mother" train.

    Input i of group g fires in a step as follows: with probability ``copy_prob[i]`` = c it
    copies that step of the group's mother train (rate ``mother_rates_Hz[g]`` = r_m),
    otherwise it fires on its own with probability p_own. Choosing
    p_own = (p − c p_m) / (1 − c) keeps its rate exactly at ``rates_Hz[i]`` (its own train is
    thinned to make room for the copies), and a fraction c r_m / r of its spikes are copies.
    With r_m = r (the default) two inputs of a group coincide in a step with probability
    c² p + (1 − c²) p², and an input fires in a step where the mother fires with probability
    c + (1 − c) p_own: the copy probability is measurable from the spikes.

    Attributes:
        rates_Hz: rate of each input (n_inputs,), Hz.
        copy_prob: probability c of copying the mother in a step (n_inputs,); 0: independent.
        group: index of each input's mother train (n_inputs,), ignored where c = 0.
        mother_rates_Hz: rate of each group's mother train (n_groups,), Hz.
    """

    rates_Hz: Float[Array, " n"]
    copy_prob: Float[Array, " n"]
    group: Int[Array, " n"]
    mother_rates_Hz: Float[Array, " g"]
    n_inputs: int = eqx.field(static=True)
    n_groups: int = eqx.field(static=True)

    @classmethod
    def create(cls, rates_Hz, *, groups=None, copy_prob=0.0, mother_rates_Hz=None):
        """Inputs firing at ``rates_Hz`` (n,), Hz; optionally correlated in groups.

        Args:
            rates_Hz: rate of each input, Hz (≥ 0).
            groups: group index per input (n,) ints, −1 for an independent input; None: all
                independent.
            copy_prob: probability c ∈ [0, 1) that an input of a group copies its mother's
                step (scalar or (n,)); ignored for independent inputs.
            mother_rates_Hz: rate of each group's mother train (n_groups,), Hz; None: the rate
                of the group's inputs (they must then share one rate).

        Raises:
            ValueError: naming the argument, for shapes, negative rates, c outside [0, 1), or a
                mother too fast to be copied at rate-preserving probability (c r_m > r).
        """
        rates = np.asarray(rates_Hz, np.float64)
        if rates.ndim != 1 or rates.size == 0:
            raise ValueError(
                f"PoissonSpikes: rates_Hz must be a non-empty 1-d array, got {rates.shape}"
            )
        if not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise ValueError("PoissonSpikes: rates_Hz must be finite and ≥ 0")
        n = rates.size
        group = np.full(n, -1) if groups is None else np.asarray(groups)
        if group.shape != (n,) or not np.issubdtype(group.dtype, np.integer):
            raise ValueError(f"PoissonSpikes: groups must be ({n},) integers, got {group.shape}")
        if np.any(group < -1):
            raise ValueError("PoissonSpikes: groups must be ≥ 0, or −1 for an independent input")
        n_groups = int(group.max()) + 1 if n else 0
        c = np.broadcast_to(np.asarray(copy_prob, np.float64), (n,)).copy()
        if np.any(c < 0) or np.any(c >= 1):
            raise ValueError("PoissonSpikes: copy_prob must be in [0, 1)")
        c = np.where(group >= 0, c, 0.0)
        if mother_rates_Hz is None:
            mother = np.zeros(n_groups)
            for g in range(n_groups):
                members = rates[group == g]
                if members.size and np.ptp(members) > 0:
                    raise ValueError(
                        f"PoissonSpikes: group {g} mixes rates {sorted(set(members))}; give "
                        "mother_rates_Hz"
                    )
                mother[g] = members[0] if members.size else 0.0
        else:
            mother = np.asarray(mother_rates_Hz, np.float64)
            if mother.shape != (n_groups,) or np.any(mother < 0):
                raise ValueError(
                    f"PoissonSpikes: mother_rates_Hz must be ({n_groups},) rates ≥ 0, "
                    f"got {mother.shape}"
                )
        if n_groups and np.any(c * mother[np.maximum(group, 0)] > rates * (1 + 1e-9)):
            raise ValueError(
                "PoissonSpikes: copy_prob × mother rate exceeds an input's rate; the input "
                "cannot keep its rate"
            )
        return cls(
            rates_Hz=jnp.asarray(rates, jnp.float32),
            copy_prob=jnp.asarray(c, jnp.float32),
            group=jnp.asarray(np.maximum(group, 0), jnp.int32),
            mother_rates_Hz=jnp.asarray(mother if n_groups else np.zeros(1), jnp.float32),
            n_inputs=n,
            n_groups=max(n_groups, 1),
        )

    def own_probability(self, dt_s: float):
        """Per-step probability p_own (n_inputs,) of an input's own (non-copied) spikes."""
        return self._own_probability(self.rates_Hz, self.mother_rates_Hz, dt_s)

    def _own_probability(self, rates_Hz, mother_rates_Hz, dt_s):
        c = self.copy_prob
        p = rates_Hz * dt_s
        p_mother = mother_rates_Hz[self.group] * dt_s
        return jnp.clip((p - c * p_mother) / (1.0 - c), 0.0, 1.0)

    def sample(self, start_step, n_steps, dt_s, *, key):
        return self.sample_with_mothers(start_step, n_steps, dt_s, key=key)[0]

    def sample_with_mothers(self, start_step, n_steps: int, dt_s: float, *, key):
        """(spikes (n_steps, n_inputs), mother trains (n_steps, n_groups)), both 0/1 float32.

        :meth:`sample` returns the first of these; the mothers are for checking statistics.
        """
        del start_step  # stationary
        rates = _check_rates(self.rates_Hz, dt_s, "PoissonSpikes")
        mother_rates = _check_rates(self.mother_rates_Hz, dt_s, "PoissonSpikes (mother)")
        u = uniform24(key, (n_steps, self.n_inputs + self.n_groups))
        u_in, u_mother = u[:, : self.n_inputs], u[:, self.n_inputs :]
        mother = u_mother < mother_rates * dt_s
        c = self.copy_prob
        # One uniform per (step, input) chooses copy (u < c) or own train (the rest of [0, 1)
        # rescaled), so the two branches are exclusive and the rate is exact.
        own = u_in < c + (1.0 - c) * self._own_probability(rates, mother_rates, dt_s)
        spikes = jnp.where(u_in < c, mother[:, self.group], own)
        return spikes.astype(jnp.float32), mother.astype(jnp.float32)


class RateCodedImages(AbstractSpikeSource):
    """Images shown one after another as Poisson rates: pixel value × ``max_rate_Hz``.

    Image ``(step // steps_per_image) % n_images`` is shown at a step, in the order given.

    Attributes:
        images: (n_images, n_inputs) pixel intensities in [0, 1].
        max_rate_Hz: rate of a pixel of intensity 1, Hz.
    """

    images: Float[Array, "m n"]
    max_rate_Hz: float
    steps_per_image: int = eqx.field(static=True)
    n_inputs: int = eqx.field(static=True)

    @classmethod
    def create(cls, images, *, max_rate_Hz: float, steps_per_image: int) -> "RateCodedImages":
        """From (n_images, ...) images in [0, 1] (flattened per image)."""
        x = np.asarray(images, np.float32)
        if x.ndim < 2 or x.shape[0] == 0:
            raise ValueError(f"RateCodedImages: images must be (n_images, ...), got {x.shape}")
        x = x.reshape(x.shape[0], -1)
        if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
            raise ValueError("RateCodedImages: images must hold intensities in [0, 1]")
        if not (math.isfinite(max_rate_Hz) and max_rate_Hz > 0):
            raise ValueError(f"RateCodedImages: max_rate_Hz must be > 0, got {max_rate_Hz!r}")
        if steps_per_image < 1:
            raise ValueError(f"RateCodedImages: steps_per_image must be ≥ 1, got {steps_per_image}")
        return cls(
            images=jnp.asarray(x),
            max_rate_Hz=float(max_rate_Hz),
            steps_per_image=int(steps_per_image),
            n_inputs=x.shape[1],
        )

    def sample(self, start_step, n_steps, dt_s, *, key):
        steps = start_step + jnp.arange(n_steps)
        index = (steps // self.steps_per_image) % self.images.shape[0]
        p = _check_rates(self.images[index] * self.max_rate_Hz, dt_s, "RateCodedImages") * dt_s
        return (uniform24(key, p.shape) < p).astype(jnp.float32)


class TimedPatterns(AbstractSpikeSource):
    """Spatio-temporal patterns of (input, step) events, shown one after another (a timing code,
    e.g. :class:`memxbar.runtime.data.file_code.CorrelativeTimeCode`); deterministic.

    Presentation ``p = step // steps_per_pattern`` shows pattern ``p % n_patterns``, or, with
    an ``order``, pattern ``order[p % len(order)]`` (epochs of a shuffled data set without a
    copy of every pattern per epoch). Input ``i`` spikes at local step ``s`` of a presentation
    when (i, s) is one of its pattern's events.

    Attributes:
        inputs, steps: (n_patterns, max_events) the events' inputs and local steps; padding
            has input −1.
        order: (n_presentations,) pattern index of each presentation, or None.
    """

    inputs: Int[Array, "m k"]
    steps: Int[Array, "m k"]
    steps_per_pattern: int = eqx.field(static=True)
    n_inputs: int = eqx.field(static=True)
    order: Int[Array, " p"] | None = None

    @classmethod
    def create(
        cls, patterns, *, n_inputs: int, steps_per_pattern: int, order=None
    ) -> "TimedPatterns":
        """From a sequence of patterns, each a sequence of (input, local step) events, shown in
        ``order`` (pattern indices; default: as given)."""
        if len(patterns) == 0:
            raise ValueError("TimedPatterns: no patterns")
        if n_inputs < 1 or steps_per_pattern < 1:
            raise ValueError(
                f"TimedPatterns: n_inputs and steps_per_pattern must be ≥ 1, got {n_inputs}, "
                f"{steps_per_pattern}"
            )
        width = max(1, max(len(p) for p in patterns))
        inputs = np.full((len(patterns), width), -1, np.int32)
        steps = np.zeros((len(patterns), width), np.int32)
        for m, pattern in enumerate(patterns):
            for k, (i, s) in enumerate(pattern):
                if not (0 <= i < n_inputs and 0 <= s < steps_per_pattern):
                    raise ValueError(
                        f"TimedPatterns: pattern {m} has the event (input {i}, step {s}), "
                        f"outside {n_inputs} inputs × {steps_per_pattern} steps"
                    )
                inputs[m, k], steps[m, k] = i, s
        if order is not None:
            order = np.asarray(order)
            if order.ndim != 1 or len(order) == 0 or not np.issubdtype(order.dtype, np.integer):
                raise ValueError("TimedPatterns: order must be a non-empty 1-d array of integers")
            if order.min() < 0 or order.max() >= len(patterns):
                raise ValueError(
                    f"TimedPatterns: order holds indices outside 0 … {len(patterns) - 1}"
                )
            order = jnp.asarray(order, jnp.int32)
        return cls(
            jnp.asarray(inputs), jnp.asarray(steps), int(steps_per_pattern), int(n_inputs), order
        )

    @property
    def n_presentations(self) -> int:
        """Presentations before the sequence repeats."""
        return self.inputs.shape[0] if self.order is None else self.order.shape[0]

    def sample(self, start_step, n_steps, dt_s, *, key):
        del dt_s, key
        step = start_step + jnp.arange(n_steps)
        index = (step // self.steps_per_pattern) % self.n_presentations
        if self.order is not None:
            index = self.order[index]
        local = step % self.steps_per_pattern
        inputs, steps = self.inputs[index], self.steps[index]  # (n_steps, max_events)
        hit = (inputs >= 0) & (steps == local[:, None])
        target = jnp.where(hit, inputs, self.n_inputs)  # misses go out of range and are dropped
        rows = jnp.broadcast_to(jnp.arange(n_steps)[:, None], target.shape)
        spikes = jnp.zeros((n_steps, self.n_inputs), jnp.float32)
        return spikes.at[rows, target].set(1.0, mode="drop")
