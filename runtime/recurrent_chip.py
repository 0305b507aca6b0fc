"""The end of a recurrent run: the trained model onto the chip, its tests, the run record.

PCM jobs program the long-term weights (input, recurrent, readout) onto PCM tiles at chip
time 0 with program-and-verify, take the drift-compensation reference at 1 s and, for the
STPN, the controller's digital copy of W (the norm needs it) at the same time; the fast
weights go onto a volatile tile. The chip is then tested after each drift time, with and
without compensation; the pass at one day (or the first drift time) is the one whose
energy the figures report. Ideal jobs test their float tiles (no energy).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..algorithms.recurrent import SequenceClassifier, evaluate
from ..compiler import program_to_yaml
from ..crossbar import COUNTERS, ENERGY_CATEGORIES, EnergyLedger, VolatileTile, figure
from ..devices import prng
from .chip import tile_factory
from .data.assoc_retrieval import N_SYMBOLS, SEQUENCE_LENGTH
from .run_file import ENERGY_KEYS, RunRecord

__all__ = ["run_record", "program_chip", "program_fast_tile", "fast_extent"]

#: Chip time (s) of the drift-compensation reference read after programming at 0 s.
CALIBRATION_S = 1.0
#: The drift time whose compensated test is the run's test accuracy, if it is studied.
REFERENCE_DRIFT_S = 86400.0


def _ledger(model: SequenceClassifier) -> EnergyLedger:
    """Everything the chip's tiles booked (long-term, fast, readout)."""
    cell = model.cell
    total = cell.w_in.ledger + cell.w_rec.ledger + model.readout.ledger
    fast = getattr(cell, "fast", None)
    return total if fast is None else total + fast.ledger


@eqx.filter_jit
def fast_extent(model: SequenceClassifier, tokens, *, key):
    """(largest |F̃|, largest |z·F̃|) the STPN reaches on ``tokens`` (B, T): the stored fast
    weights and the fast tile's MVM outputs, in weight units."""
    x = jax.nn.one_hot(tokens, N_SYMBOLS)
    cell, state = model.cell.initial(x.shape[0])
    stored = jnp.zeros(())
    product = jnp.zeros(())
    for step in range(x.shape[1]):
        z = jnp.concatenate([x[:, step], state], axis=-1)
        product = jnp.maximum(
            product, jnp.max(jnp.abs(jnp.einsum("br,brc->bc", z, cell.fast.stored)))
        )
        cell, state, _, _ = cell.step(state, x[:, step], 0.0, key=prng.fold_in(key, step))
        stored = jnp.maximum(stored, jnp.max(jnp.abs(cell.fast.stored)))
    return stored, product


def program_fast_tile(experiment, model: SequenceClassifier, *, key) -> VolatileTile:
    """The STPN's fast weights on the job's volatile tile: its λ and γ programmed, the weight
    at g_max (``f_max``) and the ADC range of its MVM fitted to the largest |F̃| and |z·F̃|
    ``model`` reaches on (at most 1000) validation sequences, +10 %, unless the job sets them."""
    k_extent, k_fast = prng.split(key)
    config = experiment.job.fast_weights
    tokens = experiment.data.x_validation[: min(1000, len(experiment.data.x_validation))]
    stored, product = (float(v) for v in fast_extent(model, tokens, key=k_extent))
    f_max = config.f_max or max(1.1 * stored, 1e-12)
    adc_range = config.adc_output_range or max(1.1 * product / f_max, 1e-6)
    periphery = eqx.tree_at(lambda p: p.adc.output_range, experiment.chip.periphery, adc_range)
    fast = model.cell.fast
    return VolatileTile.create(
        config.device,
        periphery,
        decay=fast.decay,
        gain=fast.gain,
        f_max=f_max,
        step_s=config.step_s,
        key=k_fast,
    )


def program_chip(experiment, model: SequenceClassifier, *, key) -> SequenceClassifier:
    """``model``'s weights programmed onto the job's PCM chip (see the module docstring)."""
    job, chip = experiment.job, experiment.chip
    k_tiles, k_cal, k_read, k_fast = prng.split(key, 4)
    tiles = {"input": model.cell.w_in, "recurrent": model.cell.w_rec, "readout": model.readout}
    programmed = {}
    for i, (name, tile) in enumerate(tiles.items()):
        k_make, k_prog = prng.split(prng.fold_in(k_tiles, i))
        make = tile_factory(chip, "pcm", job.w_max(name), device=experiment.device)
        pcm = make("cell", name, tile.rows, tile.cols, key=k_make)
        pcm = pcm.program_weights(tile.true_weights(), 0.0, key=k_prog)
        programmed[name] = pcm.calibrate(CALIBRATION_S, key=prng.fold_in(k_cal, i))
    chip_model = eqx.tree_at(
        lambda m: (m.cell.w_in, m.cell.w_rec, m.readout),
        model,
        (programmed["input"], programmed["recurrent"], programmed["readout"]),
    )
    if not hasattr(model.cell, "fast"):
        return chip_model
    w_in, t_in = programmed["input"].read_weights(CALIBRATION_S, key=k_read)
    w_rec, t_rec = programmed["recurrent"].read_weights(CALIBRATION_S, key=prng.fold_in(k_read, 1))
    volatile = program_fast_tile(experiment, model, key=k_fast)
    return eqx.tree_at(
        lambda m: (m.cell.w_in, m.cell.w_rec, m.cell.fast, m.cell.w_reference),
        chip_model,
        (t_in, t_rec, volatile, jnp.concatenate([w_in, w_rec])),
        is_leaf=lambda x: x is None,
    )


def _with_compensation(model: SequenceClassifier, enabled: bool) -> SequenceClassifier:
    cell = model.cell
    return eqx.tree_at(
        lambda m: (m.cell.w_in, m.cell.w_rec, m.readout),
        model,
        (
            cell.w_in.with_drift_compensation(enabled),
            cell.w_rec.with_drift_compensation(enabled),
            model.readout.with_drift_compensation(enabled),
        ),
    )


def _test(experiment, model, t, key):
    data, batch = experiment.data, experiment.job.training.eval_batch_size
    # t as an array: one compiled evaluation serves every drift time.
    t = jnp.asarray(t, jnp.float32)
    return evaluate(model, data.x_test, data.y_test, t, batch, N_SYMBOLS, key=key)


def run_record(experiment, state, history, *, key) -> RunRecord:
    """The run record of a finished recurrent run."""
    job = experiment.job
    k_soft, k_chip, k_test, k_drift = prng.split(key, 4)
    best = state.best
    _, trained_accuracy, measure = _test(experiment, best, 0.0, k_soft)
    final = {
        "test_accuracy_trained": float(trained_accuracy),
        "energy_measure_per_step": float(measure),
        "validation_accuracy_best": float(state.best_validation),
        "best_epoch": int(state.best_epoch),
        "epochs": int(state.epoch),
    }
    if job.hardware.tiles == "pcm":
        on_chip, inference, conductances, eval_times, accuracy_vs_time = _chip_test(
            experiment, best, k_chip, k_test, k_drift
        )
        final |= on_chip
    else:
        final["test_accuracy"] = float(trained_accuracy)
        inference = EnergyLedger.zeros().values()
        conductances, eval_times, accuracy_vs_time = {}, (), {}
    n_test = len(experiment.data.y_test)
    final |= {name: inference[name] for name in COUNTERS} | {"test_sequences": n_test}
    per = {
        "E_step": n_test * SEQUENCE_LENGTH,
        "E_sequence": n_test,
        "E_update": inference["update_events"],
    }
    step = np.array([int(state.epoch)], np.int64)
    energies = [inference[c] for c in ENERGY_CATEGORIES]
    weights = _weights(best)
    return RunRecord(
        job_yaml=job.text,
        program_yaml=program_to_yaml(experiment.program),
        metric_steps=history["step"],
        metrics={n: history[n] for n in history if n != "step"},
        energy_steps=step,
        energy={
            k: np.array([v]) for k, v in zip(ENERGY_KEYS, [*energies, sum(energies)], strict=True)
        },
        energy_attrs={figure(n).run_attr: figure(n).value(inference, c) for n, c in per.items()},
        final=final,
        weights={n: w[None] for n, w in weights.items()},
        weight_steps={n: step for n in weights},
        conductances=conductances,
        eval_times_s=np.asarray(eval_times, np.float64),
        accuracy_vs_time=accuracy_vs_time,
        kind="recurrent",
        setup={"tiles": job.hardware.tiles, "cell": job.model.cell},
    )


def _chip_test(experiment, best, k_chip, k_test, k_drift):
    """The trained weights programmed on the chip, tested at the reference drift time and
    over the drift study: (final entries, inference ledger values, programmed conductances,
    evaluation times, accuracy vs time)."""
    chip = program_chip(experiment, best, key=k_chip)
    eval_times = experiment.job.evaluation.drift_times_s
    reference = REFERENCE_DRIFT_S if REFERENCE_DRIFT_S in eval_times else eval_times[0]
    before = _ledger(chip).values()
    tested, accuracy, _ = _test(experiment, chip, reference, k_test)
    after = _ledger(tested).values()
    inference = {k: v - before[k] for k, v in after.items()}
    accuracy_vs_time = _drift_study(experiment, chip, eval_times, k_drift)
    final = {"test_accuracy": float(accuracy), "test_time_s": float(reference)}
    if hasattr(chip.cell, "fast"):
        final["fast_weight_max"] = float(chip.cell.fast.f_max)
        final["fast_adc_output_range"] = float(chip.cell.fast.periphery.adc.output_range)
        final["fast_decay_at_limit_fraction"] = _at_limit_fraction(chip.cell.fast, best.cell)
    conductances = {
        name: np.asarray(tile.programmed_conductances())
        for name, tile in (
            ("cell_input", chip.cell.w_in),
            ("cell_recurrent", chip.cell.w_rec),
            ("readout", chip.readout),
        )
    }
    return final, inference, conductances, eval_times, accuracy_vs_time


def _drift_study(experiment, chip, eval_times, key):
    """Test accuracy after each drift time, with and without compensation (on copies)."""
    results = {"compensated": [], "uncompensated": []}
    for i, t in enumerate(eval_times):
        for j, label in enumerate(results):
            model = _with_compensation(chip, label == "compensated")
            _, accuracy, _ = _test(experiment, model, t, prng.fold_in(key, 2 * i + j))
            results[label].append(float(accuracy))
    return {k: np.asarray(v, np.float64) for k, v in results.items()}


def _at_limit_fraction(volatile: VolatileTile, cell) -> float:
    """The share of the STPN's λ at (or, clipped, beyond) a limit of what the volatile element
    realises: training pushed them against the element's shortest or longest τ."""
    low, high = volatile.device.decay_range(volatile.step_s)
    decay = np.asarray(cell.fast.decay, np.float64)
    return float(np.mean((decay <= low * (1 + 1e-6)) | (decay >= high * (1 - 1e-6))))


def _weights(model: SequenceClassifier) -> dict[str, np.ndarray]:
    """The trained arrays as matrices, by name (biases as one row; fast-weight decay and gain
    for the STPN): everything needed to rebuild the model."""
    cell = model.cell
    out = {
        "cell_input": cell.w_in.true_weights(),
        "cell_recurrent": cell.w_rec.true_weights(),
        "cell_bias": cell.bias[None],
        "readout": model.readout.true_weights(),
        "readout_bias": model.readout_bias[None],
    }
    if hasattr(cell, "fast"):
        out |= {"fast_decay": cell.fast.decay, "fast_gain": cell.fast.gain}
    return {n: np.asarray(w, np.float32) for n, w in out.items()}
