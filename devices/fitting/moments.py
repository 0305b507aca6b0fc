"""The statistics the fit matches between measured and simulated devices.

Every statistic is an average over devices of a per-device contribution, so measured and
simulated devices are summarised by the same function and the covariance of the measured
statistics is the covariance of the contributions over devices divided by their number
(devices are independent: this is what a bootstrap over devices estimates, without the
resampling). Conductances in µS. Per read point k, with ȳ the mean of a device's repeated
reads:

- ``mean``: ȳ (the SET curve and the drift curve);
- ``var``: (ȳ − mean)², unbiased (device-to-device spread, step noise, RESET spread);
- ``within``: the variance of a device's repeated reads (read noise), points with ≥ 2 reads;
- ``lag1``, ``lag2``: products of the deviations of one device from the mean at stages one and
  two apart on the SET curve (how long a device stays above or below the others: step-size
  spread against per-pulse noise).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .measurements import Design

__all__ = ["GROUPS", "MomentLayout", "layout_of", "contributions", "moments"]

#: The groups of statistics, in the order :func:`contributions` returns them.
GROUPS = ("mean", "var", "within", "lag1", "lag2")


class MomentLayout(eqx.Module):
    """Which points feed which statistic (static: it fixes the shapes).

    Attributes:
        read_mask: ``(K, max_reads)`` flags of the read slots in use.
        repeated: points with ≥ 2 reads.
        curve: the first point of each stage (the SET curve), in pulse order.
    """

    read_mask: tuple[tuple[bool, ...], ...] = eqx.field(static=True)
    repeated: tuple[int, ...] = eqx.field(static=True)
    curve: tuple[int, ...] = eqx.field(static=True)

    def sizes(self) -> dict[str, int]:
        """Number of statistics in each group of :data:`GROUPS`."""
        k, n = len(self.read_mask), len(self.curve)
        return dict(
            mean=k, var=k, within=len(self.repeated), lag1=max(n - 1, 0), lag2=max(n - 2, 0)
        )

    def groups(self) -> np.ndarray:
        """The group name of each statistic."""
        return np.concatenate([np.full(n, g) for g, n in self.sizes().items()])


def layout_of(design: Design) -> MomentLayout:
    """The :class:`MomentLayout` of ``design``."""
    return MomentLayout(
        read_mask=tuple(tuple(bool(x) for x in row) for row in design.read_mask()),
        repeated=tuple(int(k) for k in np.flatnonzero(design.reads >= 2)),
        curve=tuple(int(k) for k in design.curve_points()),
    )


def contributions(g_uS, layout: MomentLayout):
    """Per-device contributions ``(D, n_statistics)`` to the statistics of reads ``g_uS``
    (µS, ``(D, K, max_reads)``); their mean over devices is :func:`moments`."""
    mask = jnp.asarray(layout.read_mask, g_uS.dtype)
    n_reads = mask.sum(axis=1)
    d = g_uS.shape[0]
    ybar = (g_uS * mask).sum(axis=2) / n_reads
    dev = ybar - ybar.mean(axis=0)
    unbiased = d / (d - 1.0)
    rep = jnp.asarray(layout.repeated, jnp.int32)
    spread = ((g_uS - ybar[..., None]) ** 2 * mask).sum(axis=2) / jnp.maximum(n_reads - 1, 1)
    curve = dev[:, jnp.asarray(layout.curve, jnp.int32)]
    return jnp.concatenate(
        [
            ybar,
            unbiased * dev**2,
            spread[:, rep],
            unbiased * curve[:, 1:] * curve[:, :-1],
            unbiased * curve[:, 2:] * curve[:, :-2],
        ],
        axis=1,
    )


def moments(g_uS, layout: MomentLayout):
    """The statistics of reads ``g_uS`` (µS, ``(D, K, max_reads)``), ``(n_statistics,)``."""
    return contributions(g_uS, layout).mean(axis=0)
