"""Scores of what a learner found, from its weights: AUC, flatness across rates, selectivity,
preferred groups and normalised mutual information, and the scores of a spiking run.

All functions take NumPy arrays (weights of shape (inputs, neurons)) and return floats or
arrays; none touches a tile or books anything.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "auc",
    "rate_flatness",
    "selectivity",
    "preferred_groups",
    "normalized_mutual_information",
    "group_nmi",
    "input_nmi",
    "spiking_scores",
]


def auc(positive, negative) -> float:
    """P(a positive score > a negative score) + ½ P(tie): the ROC AUC (Mann–Whitney)."""
    p = np.asarray(positive, np.float64)[:, None]
    n = np.asarray(negative, np.float64)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def rate_flatness(weights, rates_Hz, uncorrelated) -> tuple[float, dict[float, float]]:
    """(max/min of the mean uncorrelated weight per rate, {rate: mean weight})."""
    w = np.asarray(weights)[uncorrelated]
    r = np.asarray(rates_Hz)[uncorrelated]
    means = {float(rate): float(w[r == rate].mean()) for rate in np.unique(r)}
    values = np.array(list(means.values()))
    return float(values.max() / values.min()), means


def selectivity(weights, group, n_groups: int | None = None) -> np.ndarray:
    """Mean weight of each neuron on each group's inputs, (n_neurons, n_groups).

    Args:
        weights: (n_inputs, n_neurons) learned weights.
        group: (n_inputs,) group index of each input.
    """
    W = np.asarray(weights, np.float64)
    g = np.asarray(group)
    if W.ndim != 2 or g.shape != (W.shape[0],):
        raise ValueError(
            f"selectivity: weights must be (inputs, neurons) and group (inputs,), got "
            f"{W.shape} and {g.shape}"
        )
    n_groups = int(g.max()) + 1 if n_groups is None else n_groups
    counts = np.bincount(g, minlength=n_groups).astype(np.float64)
    sums = np.zeros((n_groups, W.shape[1]))
    np.add.at(sums, g, W)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts[:, None]).T


def preferred_groups(weights, group, n_groups: int | None = None) -> np.ndarray:
    """The group each neuron weights most on average (argmax of :func:`selectivity`)."""
    return np.argmax(np.nan_to_num(selectivity(weights, group, n_groups), nan=-np.inf), axis=1)


def _entropy(p) -> float:
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def normalized_mutual_information(labels_a, labels_b) -> float:
    """NMI of two labelings of the same items: I(A; B) / ((H(A) + H(B)) / 2), in [0, 1].

    The arithmetic normalisation (as scikit-learn's default). Two labelings that each put
    every item in one class share no information by convention here: 0, unless both are
    that single class (1).
    """
    a, b = np.asarray(labels_a), np.asarray(labels_b)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"NMI: need two labelings of the same items, got {a.shape} and {b.shape}")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    joint = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(joint, (ia, ib), 1.0)
    joint /= a.size
    h_a, h_b = _entropy(joint.sum(1)), _entropy(joint.sum(0))
    if h_a == 0 and h_b == 0:
        return 1.0
    mutual = h_a + h_b - _entropy(joint.ravel())
    return float(np.clip(2.0 * mutual / (h_a + h_b), 0.0, 1.0))


def group_nmi(weights, group, n_groups: int | None = None) -> float:
    """NMI between the neurons and the groups they prefer (:func:`preferred_groups`).

    Each neuron is one item, labelled by itself and by its preferred group: 1 when every
    neuron prefers a different group, 0 when all prefer the same one; with as many neurons as
    groups, 1 means every group is learned by exactly one neuron.
    """
    pref = preferred_groups(weights, group, n_groups)
    return normalized_mutual_information(np.arange(pref.size), pref)


def input_nmi(weights, group) -> float:
    """NMI between the inputs' groups and the neuron that weights each input most.

    Each input is one item: a clustering score of how the population splits the inputs.
    """
    W = np.asarray(weights)
    return normalized_mutual_information(np.asarray(group), np.argmax(W, axis=1))


def spiking_scores(weights, layout, active=None) -> dict[str, float]:
    """What the learned ``weights`` (n_inputs, n_neurons) show, as far as the job allows.

    - ``auc``: P(a target input's weight > another input's), per neuron then averaged (a job
      with a target group);
    - ``flatness``: max/min over rates of the mean non-target weight (a target group and at
      least two rates among the others);
    - ``nmi``: NMI between the inputs' groups and the neuron that weights each input most (a
      clustering score, several neurons and groups);
    - ``groups_learned``: distinct preferred groups (:func:`preferred_groups`)
      among the ``active`` neurons (those that fired; default all).
    """
    W = np.asarray(weights, np.float64)
    out = {}
    group = layout.group
    if layout.target is not None:
        target = group == layout.target
        out["auc"] = float(np.mean([auc(w[target], w[~target]) for w in W.T]))
        others = layout.input_rates_Hz[~target]
        if np.unique(others).size > 1:
            out["flatness"] = rate_flatness(W.mean(1), layout.input_rates_Hz, ~target)[0]
    if W.shape[1] > 1 and layout.n_groups > 1:
        out["nmi"] = input_nmi(W, group)
        active = np.ones(W.shape[1], bool) if active is None else np.asarray(active, bool)
        preferred = preferred_groups(W, group, layout.n_groups)[active]
        out["groups_learned"] = float(np.unique(preferred).size)
    return out
