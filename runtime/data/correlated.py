"""The correlation benchmark's inputs (issue 6): a timing code among rate codes.

The benchmark of Moraitis et al. (IJCNN 2017, synthetic data) built on the generic
:class:`~memxbar.algorithms.snn.sources.PoissonSpikes`: one group of inputs copying a common
"mother" train (a spike-timing correlation at an unchanged rate) among independent inputs
at several rates.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...algorithms.snn.sources import PoissonSpikes

__all__ = ["CorrelationBenchmark", "correlation_benchmark"]


@dataclasses.dataclass(frozen=True)
class CorrelationBenchmark:
    """The inputs of the FSTDP benchmark and what a learner should find in them.

    Attributes:
        sources: the spike source.
        correlated: (n_inputs,) bool, the inputs of the correlated group.
        rates_Hz: (n_inputs,) rate of each input, Hz (as a NumPy array, for grouping).
    """

    sources: PoissonSpikes
    correlated: np.ndarray
    rates_Hz: np.ndarray


def correlation_benchmark(
    *,
    n_correlated: int = 20,
    correlated_rate_Hz: float = 10.0,
    copy_prob: float = 0.25,
    uncorrelated_rates_Hz=(10.0, 20.0, 35.0, 50.0),
    per_rate: int = 20,
) -> CorrelationBenchmark:
    """The synthetic benchmark of issue 6 (Moraitis et al., IJCNN 2017, synthetic data).

    One group of ``n_correlated`` inputs at ``correlated_rate_Hz`` copying a common mother
    train with probability ``copy_prob``, followed by ``per_rate`` independent inputs at each
    of ``uncorrelated_rates_Hz``. Defaults: 20 correlated inputs at 10 Hz with c = 0.25 and
    80 independent inputs at 10, 20, 35 and 50 Hz.
    """
    if n_correlated < 1 or per_rate < 1:
        raise ValueError("correlation_benchmark: n_correlated and per_rate must be ≥ 1")
    rates = np.concatenate(
        [np.full(n_correlated, correlated_rate_Hz), np.repeat(uncorrelated_rates_Hz, per_rate)]
    )
    groups = np.concatenate([np.zeros(n_correlated, int), np.full(rates.size - n_correlated, -1)])
    sources = PoissonSpikes.create(rates, groups=groups, copy_prob=copy_prob)
    return CorrelationBenchmark(sources=sources, correlated=groups == 0, rates_Hz=rates)
