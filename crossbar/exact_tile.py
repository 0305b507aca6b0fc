"""What the tiles with float weights share: exact writes, reads of the weights themselves, no
conductances to refresh or calibrate.

:class:`~.ideal_tile.IdealTile` (the reference) and :class:`~.aware_tile.AwareTile` (float
weights read through a noisy device view) differ only in how they compute a product; every
write and weight read below is theirs, implemented once. They inherit these concrete methods
and never override them (Equinox's abstract/final rule).
"""

# No ``from __future__ import annotations``: equinox reads AbstractVar annotations as objects.
import equinox as eqx
import jax.numpy as jnp

from .tile import AbstractTile, outer_product_update

__all__ = ["AbstractExactWeightsTile"]


class AbstractExactWeightsTile(AbstractTile):
    """A tile whose state is its float weights (rows, cols): writes add to them exactly."""

    weights: eqx.AbstractVar[jnp.ndarray]

    def booked(self, **counts):
        """This tile with ``counts`` (ledger counter names) added to its ledger."""
        return eqx.tree_at(lambda s: s.ledger, self, self.ledger.add(**counts))

    def update(self, dW, t, *, key):
        """Add ``dW`` exactly; booked as one update call and an event per changed synapse.

        A NaN in ``dW`` makes the ledger's ``update_events`` NaN (the weights are NaN there
        too), so a diverged update shows in every energy-per-update figure.
        """
        del t, key
        dW = jnp.asarray(dW)
        self.check_matrix(dW, "update: dW")
        tile = eqx.tree_at(lambda s: s.weights, self, self.weights + dW)
        return tile.booked(update_events=changed_synapses(dW), update_calls=1)

    def update_outer(self, x, d, t, *, key, scale=1.0):
        return outer_product_update(self, x, d, t, key=key, scale=scale)

    def reset_and_reprogram(self, dW, W_read, t, *, key):
        self.check_matrix(W_read, "reset_and_reprogram: W_read")
        return self.update(dW, t, key=key)

    def read_weights(self, t, *, key):
        del t, key
        return self.weights, self.booked(weight_reads=1)

    def program_weights(self, W, t, *, key):
        """Hold ``W`` exactly (nothing booked)."""
        del t, key
        self.check_matrix(W, "program_weights: W")
        return eqx.tree_at(lambda s: s.weights, self, jnp.asarray(W, jnp.float32))

    def true_weights(self):
        return self.weights

    def refresh(self, t, *, key):
        del t, key  # float weights never saturate
        return self

    def with_drift_compensation(self, enabled: bool):
        del enabled  # the weights themselves are read: nothing drifts between reads
        return self

    def calibrate(self, t, *, key):
        del t, key
        return self

    def programmed_conductances(self):
        return None


def changed_synapses(dW):
    """How many entries of ``dW`` are non-zero, as float32 (NaN if one of them is NaN).

    ``ceil(min(|dW|, 1))`` is 1 for every non-zero entry, infinities included, and 0 for a
    zero; XLA:CPU vectorises this arithmetic where it does not vectorise ``dW != 0`` into a
    sum (SoftHebb's 784 x 2000 step on an ideal tile: 1.55x -> 1.28x the float rule,
    benchmarks/README.md). Rows are summed first, each exactly in float32 below 2^24 columns.
    """
    return jnp.sum(jnp.sum(jnp.ceil(jnp.minimum(jnp.abs(dW), 1.0)), axis=-1))
