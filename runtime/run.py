"""Running a job: build the chip, learn on it in chunks, evaluate, write the run file."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..algorithms import algorithm_for, train_readout
from ..compiler import compile_network, program_to_yaml
from ..crossbar import COUNTERS, ENERGY_CATEGORIES, figure
from ..crossbar.ledger import format_joules
from .checkpoint import load_checkpoint, save_checkpoint
from .chip import tile_factory
from .datasets import check_network_input, load_dataset
from .interrupt import RunInterrupted, stop_if_requested, stop_requested
from .job import Job
from .outputs import checkpoint_path, claim_outputs
from .progress import Progress
from .run_file import RunRecord, write_run_file
from .trainer import Schedule, batched_features, make_chunk_runner, tiles_ledger

__all__ = ["RunInterrupted", "run_job", "checkpoint_path"]


def _fingerprint(job: Job, seed: int, epochs: int) -> str:
    text = f"{job.text}\nseed={seed}\nepochs={epochs}".encode()
    return hashlib.sha256(text).hexdigest()


def _ledger_row(ledger) -> np.ndarray:
    values = [float(ledger.energy_J(k)) for k in ENERGY_CATEGORIES]
    return np.array([*values, sum(values)], np.float64)


def run_job(
    job: Job,
    out_path: str | Path,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    stop_after_chunks: int | None = None,
    eval_times_s: tuple[float, ...] = (),
    data_dir: str | None = None,
) -> RunRecord:
    """Train ``job`` on its chip, evaluate it and write the run file ``out_path``.

    The output paths are checked and the run's lock taken before any work (see
    :func:`~.outputs.claim_outputs`). A stop request (Ctrl-C, SIGTERM: :mod:`.interrupt`) is
    honoured between chunks: the checkpoint is saved and RunInterrupted raised.

    Args:
        seed: overrides the job's seed. epochs: overrides training.epochs.
        resume: continue from the checkpoint next to ``out_path`` if there is one.
        overwrite: start again, replacing a checkpoint or a finished run file.
        stop_after_chunks: stop (raise RunInterrupted) after this many chunks of this call,
            as an interruption would; the checkpoint stays for a resume.
        eval_times_s: drift study: test accuracy at these times (s) after the last update,
            with and without global drift compensation, using the readout trained at 1 s.
        data_dir: data folder (MNIST, CIFAR-10, STL-10) overriding the job's data.data_dir.
    """
    if any(not (t > 0) for t in eval_times_s):
        raise ValueError(f"eval times must be positive seconds, got {list(eval_times_s)}")
    seed = job.seed if seed is None else seed
    training = job.training
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"epochs must be ≥ 1, got {epochs}")
        training = dataclasses.replace(training, epochs=epochs)
    with claim_outputs(out_path, resume=resume, overwrite=overwrite) as outputs:
        chip = job.chip()
        device = job.device(chip)
        program = compile_network(job.network, chip, device=device)
        data = load_dataset(job.data, seed=seed, data_dir=data_dir)
        check_network_input(job.network, data, source=job.source)
        stop_if_requested("before training started (nothing to resume: run it again)")
        algorithm = algorithm_for(job.network)
        schedule = Schedule(
            data.x_train.shape[0], training.batch_size, training.epochs, training.step_time_s
        )

        key = jax.random.key(seed)
        k_init, k_data, k_train, k_eval = jax.random.split(key, 4)
        make_tile = tile_factory(chip, job.hardware.tiles, job.hardware.w_max, device=device)
        state = algorithm.init(make_tile, key=k_init)
        initial_ledger = tiles_ledger(algorithm, state)
        initial_programming = _ledger_row(initial_ledger)

        fingerprint = _fingerprint(job, seed, training.epochs)
        ckpt = outputs.checkpoint
        step = 0
        names = algorithm.metric_names
        history: dict[str, np.ndarray] = {
            "step": np.zeros(0, np.int64),
            "energy": np.zeros((0, len(ENERGY_CATEGORIES) + 1)),
            "snapshot_step": np.zeros(0, np.int64),
            **{f"metric_{n}": np.zeros(0) for n in names},
        }
        snapshot_steps = np.unique(
            np.linspace(0, schedule.total_steps, training.snapshots + 1).round().astype(int)[1:]
        )
        layers = list(algorithm.tiles(state))
        snapshots = {name: [] for name in layers}
        if outputs.resume:
            state, step, history = load_checkpoint(ckpt, state, fingerprint=fingerprint)
            for name in layers:
                saved = history.get(f"snapshot_{name}")
                snapshots[name] = list(saved) if saved is not None else []
        saved_step = step if outputs.resume else None

        def save():
            save_checkpoint(ckpt, state, step=step, fingerprint=fingerprint, history=history)

        x_train = jnp.asarray(data.x_train)
        run_chunk = make_chunk_runner(algorithm, schedule, training.refresh_every_steps)
        chunks_done = 0
        with Progress(schedule.total_steps, initial=step, name=job.name, enabled=progress) as bar:
            while True:
                if stop_requested() or (
                    stop_after_chunks is not None and chunks_done >= stop_after_chunks
                ):
                    if saved_step != step:
                        save()
                    raise RunInterrupted(_stopped_at(step, schedule.total_steps, ckpt))
                if step >= schedule.total_steps:
                    break
                if chunks_done == 0:
                    bar.note("compiling the first chunk (XLA)")
                stop = min(step + training.chunk_steps, schedule.total_steps)
                indices = jnp.asarray(schedule.batch_indices(k_data, step, stop))
                steps = jnp.arange(step, stop)
                state, metrics = run_chunk(state, x_train, indices, steps, k_train)
                done, step = stop - step, stop
                energy = _ledger_row(tiles_ledger(algorithm, state)) - initial_programming
                history["step"] = np.append(history["step"], step)
                history["energy"] = np.vstack([history["energy"], energy])
                for n in names:
                    history[f"metric_{n}"] = np.append(
                        history[f"metric_{n}"], float(jnp.mean(metrics[n]))
                    )
                # A snapshot at the end of the first chunk that reaches a planned snapshot
                # step, labelled with the step it was taken at (the last one is always the
                # final state).
                taken = history["snapshot_step"]
                last_taken = int(taken[-1]) if len(taken) else 0
                if np.any((snapshot_steps > last_taken) & (snapshot_steps <= step)):
                    history["snapshot_step"] = np.append(taken, step)
                    for name, tile in algorithm.tiles(state).items():
                        snapshots[name].append(np.asarray(tile.true_weights()))
                for name in layers:
                    history[f"snapshot_{name}"] = np.asarray(snapshots[name])
                save()
                saved_step = step
                chunks_done += 1
                bar.advance(
                    done,
                    **{n: f"{history[f'metric_{n}'][-1]:.3g}" for n in names[:1]},
                    E=format_joules(energy[-1]),
                )
                if stop_after_chunks is not None and step >= schedule.total_steps:
                    stop_after_chunks = None  # the last chunk: nothing left to interrupt

        record = _evaluate(
            job,
            algorithm,
            state,
            data,
            schedule,
            k_eval,
            program,
            history,
            initial_ledger,
            tuple(eval_times_s),
        )
        stop_if_requested(_stopped_at(step, schedule.total_steps, ckpt))
        write_run_file(outputs.run_file, record)
        ckpt.unlink(missing_ok=True)
    return record


def _stopped_at(step: int, total: int, ckpt: Path) -> str:
    return f"stopped at step {step} of {total}; {ckpt} keeps it: run again with --resume"


def _evaluate(
    job,
    algorithm,
    state,
    data,
    schedule,
    key,
    program,
    history,
    initial_ledger,
    eval_times_s,
) -> RunRecord:
    """Calibrate, read the training and test sets, train the readout, run the drift study and
    gather the run record: the energy figures (:mod:`memxbar.crossbar.energy_figures`) and every
    ledger counter of training, the initial programming excluded."""
    k_cal, k_train_f, k_test_f, k_drift = jax.random.split(key, 4)
    t_end = schedule.time_of(schedule.total_steps - 1)
    tiles = algorithm.tiles(state)
    trained = _difference(tiles_ledger(algorithm, state).values(), initial_ledger.values())
    keys = jax.random.split(k_cal, len(tiles))
    state = algorithm.with_tiles(
        state,
        {n: tile.calibrate(t_end, key=k) for (n, tile), k in zip(tiles.items(), keys, strict=True)},
    )
    t_eval = t_end + 1.0
    u_train, state = batched_features(algorithm, state, data.x_train, t_eval, key=k_train_f)
    before_test = tiles_ledger(algorithm, state).values()
    u_test, state = batched_features(algorithm, state, data.x_test, t_eval, key=k_test_f)
    test = _difference(tiles_ledger(algorithm, state).values(), before_test)

    f_train = algorithm.readout_features(u_train, job.readout)
    f_test = algorithm.readout_features(u_test, job.readout)
    readout = train_readout(
        f_train,
        data.y_train,
        data.n_classes,
        steps=job.readout.epochs,
        learning_rate=job.readout.learning_rate,
    )
    accuracy_vs_time = _drift_study(
        algorithm, state, data, t_end, eval_times_s, job.readout, readout, key=k_drift
    )
    energy = history["energy"]
    samples = schedule.total_steps * schedule.batch_size
    test_samples = int(data.x_test.shape[0])
    # The /energy records' last total, so that final and /energy/total agree to the bit.
    training_J = float(energy[-1, -1]) if len(energy) else 0.0
    initial = initial_ledger.values()
    final = {
        "test_accuracy": float(readout.accuracy(f_test, data.y_test)),
        "train_accuracy": float(readout.accuracy(f_train, data.y_train)),
        "training_steps": schedule.total_steps,
        "training_samples": samples,
        **{name: trained[name] for name in COUNTERS},
        "initial_programming_J": sum(initial[k] for k in ENERGY_CATEGORIES),
        "training_energy_J": training_J,
        "test_samples": test_samples,
        "chip_time_end_s": float(t_end),
    }
    for n in algorithm.metric_names:
        values = history[f"metric_{n}"]
        final[n] = float(values[-1]) if len(values) else float("nan")
    per = {
        "E_update": trained["update_events"],
        "E_inference": test_samples,
        "E_sample": samples,
    }
    energy_attrs = {
        figure(name).run_attr: figure(name).value(test if name == "E_inference" else trained, n)
        for name, n in per.items()
    }
    weights, weight_steps, conductances = {}, {}, {}
    for name, tile in algorithm.tiles(state).items():
        # The snapshots live in the history, so a resumed run has the earlier ones too.
        weights[name] = np.asarray(history[f"snapshot_{name}"], np.float32)
        weight_steps[name] = history["snapshot_step"]
        g = tile.programmed_conductances()
        if g is not None:
            conductances[name] = np.asarray(g)
    keys = ("read", "set", "reset", "dac", "adc", "refresh", "total")
    return RunRecord(
        job_yaml=job.text,
        program_yaml=program_to_yaml(program),
        metric_steps=history["step"],
        metrics={n: history[f"metric_{n}"] for n in algorithm.metric_names},
        energy_steps=history["step"],
        energy={k: energy[:, i] if len(energy) else np.zeros(0) for i, k in enumerate(keys)},
        energy_attrs=energy_attrs,
        final=final,
        weights=weights,
        weight_steps=weight_steps,
        conductances=conductances,
        eval_times_s=np.asarray(eval_times_s, np.float64),
        accuracy_vs_time=accuracy_vs_time,
    )


def _difference(end: dict[str, float], start: dict[str, float]) -> dict[str, float]:
    """What was booked between two ledger readings (:meth:`EnergyLedger.values`)."""
    return {k: end[k] - start[k] for k in end}


def _drift_study(algorithm, state, data, t_end, eval_times_s, readout_config, readout, *, key):
    """Test accuracy at t_end + each eval time, with and without drift compensation.

    The readout stays the one trained at 1 s, as a deployed chip's would; these reads are
    evaluated on copies of the state, so they are not booked in the run's energy.
    """
    results = {"compensated": [], "uncompensated": []}
    for i, delay in enumerate(eval_times_s):
        for j, (label, enabled) in enumerate((("compensated", True), ("uncompensated", False))):
            tiles = {
                n: tile.with_drift_compensation(enabled)
                for n, tile in algorithm.tiles(state).items()
            }
            u, _ = batched_features(
                algorithm,
                algorithm.with_tiles(state, tiles),
                data.x_test,
                t_end + delay,
                key=jax.random.fold_in(key, 2 * i + j),
            )
            f = algorithm.readout_features(u, readout_config)
            results[label].append(float(readout.accuracy(f, data.y_test)))
    return {k: np.asarray(v, np.float64) for k, v in results.items()}
