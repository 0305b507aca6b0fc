"""Training throughput of the STPN by BPTT: plain float arrays vs IdealTile vs AwareTile.

Run: ``python benchmarks/stpn.py [--repeats 7] [--batches 50]``.

Rows (training sequences per second, H = 11, batch 128, associative retrieval; higher is
better), each a jitted ``lax.scan`` of ``--batches`` Adam steps:
  float reference   the STPN equations on plain arrays (W, λ, γ, b, V, c), written here
  IdealTile         ``algorithms.recurrent.train_epoch`` over tiles with float weights
                    (the ``tiles: ideal`` jobs; ledger kept)
  AwareTile         the same through the PCM read path of ``pcm_256`` (programming and
                    1/f read noise, 8-bit DAC/ADC with straight-through gradients; the
                    ``tiles: pcm`` jobs)
  AwareTile 1 day   the same read as one day after programming (``training.aware_drift_s:
                    86400``: each device's drift exponent drawn per read, global
                    compensation), as the PCM examples train

Times are medians over ``--repeats`` rounds after compilation, the rows timed round-robin so
background load hits them alike; the ratios to the float reference are what to compare.
"""

from __future__ import annotations

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from memxbar.algorithms.recurrent import init_classifier, train_epoch, trainable_spec
from memxbar.crossbar import AwareTile, IdealTile, load_chip
from memxbar.devices import load_preset
from memxbar.runtime.data.assoc_retrieval import N_SYMBOLS, assoc_splits

HIDDEN, BATCH = 11, 128


def float_reference(params, tokens, targets, optimizer):
    """One epoch of the STPN on plain arrays, the paper's layout (W: H × (I + H))."""

    def loss_of(p, x, y):
        batch = x.shape[0]
        h = jnp.zeros((batch, HIDDEN))
        F = jnp.zeros((batch, *p["W"].shape))
        for t in range(x.shape[1]):
            z = jnp.concatenate([x[:, t], h], axis=1)
            G = p["W"] + F
            n = jnp.sqrt(jnp.sum(G * G, axis=2)) + 1e-16
            h = jnp.tanh(jnp.sum(G * z[:, None, :], axis=2) / n + p["b"])
            F = p["lam"] * F / n[:, :, None] + p["gam"] * (h[:, :, None] * z[:, None, :])
        logits = h @ p["V"] + p["c"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def body(carry, idx):
        p, state = carry
        grads = jax.grad(loss_of)(p, jax.nn.one_hot(tokens[idx], N_SYMBOLS), targets[idx])
        updates, state = optimizer.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), None

    n = tokens.shape[0] // BATCH
    (params, _), _ = jax.lax.scan(
        body, (params, optimizer.init(params)), jnp.arange(n * BATCH).reshape(n, BATCH)
    )
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    data = assoc_splits(0, n_train=args.batches * BATCH, n_validation=1, n_test=1)
    tokens, targets = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    optimizer = optax.adam(1e-3)
    chip = load_chip("pcm_256")
    device = load_preset(chip.device_preset)
    key = jax.random.key(0)

    def model_of(make):
        return init_classifier("stpn", N_SYMBOLS, HIDDEN, N_SYMBOLS, make, key=key)

    def aware(drift_s):
        return lambda name, w: AwareTile.create(
            chip, device, weights=w, w_max=4.0 if name == "readout" else 0.5, drift_s=drift_s
        )

    models = {
        "IdealTile": model_of(lambda name, w: IdealTile.create(*w.shape, weights=w)),
        "AwareTile": model_of(aware(0.0)),
        "AwareTile 1 day": model_of(aware(86400.0)),
    }
    ideal = models["IdealTile"]
    params = {
        "W": jnp.concatenate([ideal.cell.w_in.weights, ideal.cell.w_rec.weights]).T,
        "b": ideal.cell.bias,
        "lam": ideal.cell.fast.decay.T,
        "gam": ideal.cell.fast.gain.T,
        "V": ideal.readout.weights,
        "c": ideal.readout_bias,
    }
    reference = jax.jit(lambda p: float_reference(p, tokens, targets, optimizer))
    calls = {"float reference": lambda: reference(params)}
    for name, model in models.items():
        state = optimizer.init(eqx.filter(model, trainable_spec(model)))
        calls[name] = lambda m=model, s=state: train_epoch(
            m, s, optimizer, tokens, targets, BATCH, N_SYMBOLS, key=key
        )[2]
    times = {name: [] for name in calls}
    for call in calls.values():
        jax.block_until_ready(call())  # compile
    for _ in range(args.repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(call())
            times[name].append(time.perf_counter() - start)
    sequences = args.batches * BATCH
    base = statistics.median(times["float reference"])
    print(f"STPN H={HIDDEN} training, batch {BATCH}, {args.batches} batches per call")
    print(f"{'path':18s} {'sequences/s':>12s} {'time vs float':>14s}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:18s} {sequences / median:12.0f} {median / base:13.2f}x")


if __name__ == "__main__":
    main()
