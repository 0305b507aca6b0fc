"""The summary `memxbar run` and `memxbar report` print.

Every energy figure is printed under its short name (:mod:`memxbar.crossbar.energy_figures`),
the run's measurement next to the compiler's estimate of the same quantity (from the program
stored in the run file); the energy per category next to the count of the operations it paid
for; and the drift study (``--eval-times``) as a table of accuracy against time.
"""

from __future__ import annotations

from ...crossbar import CATEGORY_COUNTERS, figure, figures_of_kind
from ...hw_configs import format_joules
from ..run_file import ENERGY_KEYS, RunRecord

__all__ = [
    "format_summary",
    "format_spiking_summary",
    "format_recurrent_summary",
    "format_files_summary",
    "estimated_figures",
    "human_time",
]


#: Units of :func:`human_time`, largest first: (name, seconds).
_TIME_UNITS = (("y", 365.25 * 86400.0), ("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0))


def human_time(seconds: float) -> str:
    """``seconds`` in the largest unit of s, min, h, d, y that keeps it ≥ 1 (``'30.09 d'``)."""
    for unit, scale in _TIME_UNITS:
        if abs(seconds) >= scale:
            return f"{seconds / scale:.4g} {unit}"
    return f"{seconds:.4g} s"


def estimated_figures(record: RunRecord) -> dict[str, float]:
    """The compiler's estimates ({figure name: J}) for the program stored in ``record``;
    empty for ideal tiles (they cost nothing)."""
    from ...compiler import mapping_summary, program_from_yaml

    program = program_from_yaml(record.program_yaml, source="run file /config/program_yaml")
    return mapping_summary(program, record.setup["tiles"])["estimates"]


def _figure_lines(record: RunRecord, kind: str, *, estimates: bool = True) -> list[str]:
    """The energy figures of ``kind``: measured, estimated (unless ``estimates`` is False)
    and meaning; then E_update's parts."""
    estimates = estimated_figures(record) if estimates else {}
    figures = figures_of_kind(kind)
    width = max(len(f.name) for f in figures)
    lines = [
        "energy figures (initial programming excluded; definitions: memxbar --help):",
        f"  {'figure':{width}s}  {'measured':>10s}  {'estimate':>10s}  meaning",
    ]
    for f in figures:
        measured = record.energy_attrs.get(f.run_attr)
        shown = format_joules(measured) if measured is not None else "-"
        estimate = format_joules(estimates[f.name]) if f.name in estimates else "-"
        lines.append(f"  {f.name:{width}s}  {shown:>10s}  {estimate:>10s}  {f.meaning}")
    events = record.final.get("update_events", 0.0)
    energy = _final_energy(record)
    programming = figure("E_update").categories
    if events and any(energy[k] for k in programming):
        parts = " + ".join(f"{k} {format_joules(energy[k] / events)}" for k in programming)
        pulses = record.final.get("set_pulses")
        per_event = f"; {pulses / events:.3f} SET pulses per event" if pulses is not None else ""
        lines.append(f"  {'':{width}s}  E_update = {parts}{per_event}")
    if estimates:
        lines.append(
            f"  {'':{width}s}  estimates: memxbar compile's model (its report lists the "
            "assumptions)"
        )
    return lines


def _final_energy(record: RunRecord) -> dict[str, float]:
    """Energy per category and total at the end of the run, J."""
    return {k: float(record.energy[k][-1]) if len(record.energy[k]) else 0.0 for k in ENERGY_KEYS}


#: What each category's counters count, for the breakdown.
_OPERATIONS = {
    "device_reads": "device reads",
    "set_pulses": "SET pulses",
    "reset_pulses": "RESET pulses",
    "dac_conversions": "DAC conversions",
    "adc_conversions": "ADC conversions",
    "refresh_device_reads": "device reads",
    "refresh_set_pulses": "SET pulses",
    "refresh_reset_pulses": "RESET pulses",
    "refresh_adc_conversions": "ADC conversions",
}


def _breakdown(record: RunRecord) -> list[str]:
    """The final energy per category, its share, and the operations it paid for with the
    energy per operation (mean per device read: a read's energy depends on G and the input)."""
    energy = _final_energy(record)
    total = energy["total"]
    final = record.final
    lines = [f"  {'category':10s} {'energy':>10s} {'share':>7s}  operations"]
    for key in ENERGY_KEYS:
        share = f"{energy[key] / total:7.1%}" if total > 0 else "      -"
        operations = ""
        counters = CATEGORY_COUNTERS.get(key, ())
        if len(counters) == 1 and counters[0] in final:
            count = final[counters[0]]
            each = f", {format_joules(energy[key] / count)} each" if count else ""
            mean = " (mean)" if key == "read" and count else ""
            operations = f"{count:.6g} {_OPERATIONS[counters[0]]}{each}{mean}"
        elif len(counters) > 1 and all(c in final for c in counters):
            done = ", ".join(f"{final[c]:.6g} {_OPERATIONS[c]}" for c in counters)
            refreshed = f"{final.get('refreshes', 0.0):.6g} synapses refreshed"
            operations = (
                f"{refreshed}:\n{'':33s}{done}" if any(final[c] for c in counters) else refreshed
            )
        lines.append(
            f"  {key:10s} {format_joules(energy[key]):>10s} {share}  {operations}".rstrip()
        )
    return lines


def _drift_lines(
    record: RunRecord, title: str = "after the last update (drift; readout trained at 1 s)"
) -> list[str]:
    """The drift study: test accuracy at each time ``title`` names, with and without global
    drift compensation."""
    if not len(record.eval_times_s):
        return []
    results = record.accuracy_vs_time
    lines = [
        "",
        f"test accuracy {title}:",
        f"  {'time':>10s}  {'seconds':>10s}  {'compensated':>12s}  {'uncompensated':>14s}",
    ]
    for i, t in enumerate(record.eval_times_s):
        values = [
            f"{results[label][i]:.4f}" if label in results else "-"
            for label in ("compensated", "uncompensated")
        ]
        lines.append(f"  {human_time(t):>10s}  {t:>10.4g}  {values[0]:>12s}  {values[1]:>14s}")
    return lines


def format_summary(record: RunRecord, name: str = "") -> str:
    """Accuracy, the energy figures (measured and estimated), the breakdown by category with
    operation counts, and the drift study when there is one.

    A spiking run gets :func:`format_spiking_summary`.
    """
    if record.kind == "spiking":
        return format_spiking_summary(record, name)
    if record.kind == "recurrent":
        return format_recurrent_summary(record, name)
    if record.kind == "files":
        return format_files_summary(record, name)
    final = record.final
    lines = [f"run {name}".rstrip(), ""]
    for key in ("test_accuracy", "train_accuracy"):
        if key in final:
            lines.append(f"{key:28s} {final[key]:.4f}")
    for key in (
        "training_steps",
        "training_samples",
        "update_events",
        "set_pulses",
        "reset_pulses",
        "refreshes",
    ):
        if key in final:
            lines.append(f"{key:28s} {final[key]:.6g}")
    lines += ["", *_figure_lines(record, "rate")]
    lines += ["", "training energy by category:", *_breakdown(record)]
    if record.kind == "ststdp":
        lines += ["", *_ststdp_lines(record)]
    return "\n".join(lines + _drift_lines(record))


def _ststdp_lines(record: RunRecord) -> list[str]:
    """The sequence study of a short-term STDP run: accuracy per speed, W alone, W + F, MLP,
    on ordered and shuffled frames; the static accuracies and the energy per frame."""
    final, curves = record.final, record.curves
    where = record.setup.get("fast_weights", "?")
    lines = [f"transformed sequences, accuracy per frame (F: {where}):"]
    lines.append(
        f"  {'speed':>6s}  {'W':>6s}  {'W+F':>6s}  {'MLP':>6s}   shuffled: "
        f"{'W':>6s}  {'W+F':>6s}  {'MLP':>6s}"
    )
    for i, speed in enumerate(curves["speed"]):
        a = [curves[n][i] for n in ("accuracy_w", "accuracy_wf", "accuracy_mlp")]
        b = [curves[f"{n}_shuffled"][i] for n in ("accuracy_w", "accuracy_wf", "accuracy_mlp")]
        lines.append(
            f"  {speed:>6.3g}  {a[0]:>6.3f}  {a[1]:>6.3f}  {a[2]:>6.3f}             "
            f"{b[0]:>6.3f}  {b[1]:>6.3f}  {b[2]:>6.3f}"
        )
    rows = [
        ("W+F advantage (mean, ordered)", f"{final['mean_advantage_wf']:+.4f}"),
        ("W+F advantage (mean, shuffled)", f"{final['mean_advantage_wf_shuffled']:+.4f}"),
        ("static test, spiking W", f"{final['spiking_static_accuracy']:.4f}"),
        ("static test, MLP", f"{final['mlp_static_accuracy']:.4f}"),
        ("labelled neurons", f"{final['labelled_neurons']}"),
        ("energy per frame (W+F)", format_joules(final["energy_per_frame_J"])),
        ("energy per static image (W)", format_joules(final["energy_per_static_image_J"])),
    ]
    if final.get("fast_update_events"):
        rows.append(("energy per F update", format_joules(final["energy_per_fast_update_J"])))
    return lines + [f"{key:32s} {value}" for key, value in rows]


def format_spiking_summary(record: RunRecord, name: str = "") -> str:
    """A spiking run: activity, the scores (AUC, flatness, NMI), the mean weight of every
    neuron on every input group, and the energy figures (E_update, E_second, E_syn_event)
    with the breakdown by category."""
    from ..spiking_job import InputLayout

    final = record.final
    layout = InputLayout.from_setup(record.setup)
    lines = [f"run {name}".rstrip(), ""]
    rows = [
        ("simulated time", f"{final['duration_s']:.6g} s"),
        ("inputs x neurons", f"{final['n_inputs']} x {final['n_neurons']}"),
        ("input rate", f"{final['input_rate_Hz']:.4g} Hz"),
        ("output rate", f"{final['post_rate_Hz']:.4g} Hz"),
        ("synaptic events", f"{final['synaptic_events']:.6g}"),
    ]
    rows += [(key, f"{final[key]:.4f}") for key in ("auc", "flatness", "nmi") if key in final]
    if "groups_learned" in final:
        rows.append(("groups_learned", f"{final['groups_learned']:.0f} of {layout.n_groups}"))
    rows += [
        (key, f"{final[key]:.6g}")
        for key in ("update_events", "set_pulses", "reset_pulses", "refreshes")
        if key in final
    ]
    lines += [f"{key:28s} {value}" for key, value in rows]
    lines += ["", "mean weight per group (neurons x groups):"]
    width = max(8, *(len(n) + 1 for n in layout.names))
    lines.append(" " * 10 + "".join(f"{n:>{width}s}" for n in layout.names))
    means = [record.metrics[f"mean_weight_{n}"][-1] for n in layout.names]
    for j in range(int(final["n_neurons"])):
        lines.append(f"  neuron {j:<2d}" + "".join(f"{m[j]:>{width}.3f}" for m in means))
    lines += ["", *_figure_lines(record, "spiking")]
    lines += ["", "learning energy by category:", *_breakdown(record)]
    return "\n".join(lines)


def format_recurrent_summary(record: RunRecord, name: str = "") -> str:
    """A recurrent run: accuracy as trained and on the chip, the paper's energy measure, the
    energy figures of the chip's test pass with their breakdown, and the drift study."""
    final = record.final
    lines = [f"run {name}".rstrip(), ""]
    rows = [
        ("cell", f"{record.setup.get('cell', '?')} on {record.setup['tiles']} tiles"),
        ("best epoch", f"{final['best_epoch']} of {final['epochs']}"),
        ("validation accuracy (best)", f"{final['validation_accuracy_best']:.4f}"),
        ("test accuracy as trained", f"{final['test_accuracy_trained']:.4f}"),
    ]
    if "test_time_s" in final:
        when = human_time(final["test_time_s"])
        rows.append((f"test accuracy on chip ({when})", f"{final['test_accuracy']:.4f}"))
    rows.append(("sum |G| z^2 per step", f"{final['energy_measure_per_step']:.4g}"))
    for key in ("fast_weight_max", "fast_adc_output_range", "fast_decay_at_limit_fraction"):
        if key in final:
            rows.append((key, f"{final[key]:.4g}"))
    lines += [f"{key:32s} {value}" for key, value in rows]
    # The compiler estimates PCM writes; a recurrent run's updates are volatile writes.
    lines += ["", *_figure_lines(record, "recurrent", estimates=False)]
    lines += ["", "chip energy of the test pass by category:", *_breakdown(record)]
    title = "on the chip after programming (drift; compensation read at 1 s)"
    return "\n".join(lines + _drift_lines(record, title))


def format_files_summary(record: RunRecord, name: str = "") -> str:
    """A file classifier run: the SNN's test accuracy beside logistic regression, the linear
    SVM and the majority class (same split), per-class accuracy, the ingest stream, and the
    energy per classified and per training file with the breakdown by category."""
    final, setup = record.final, record.setup
    lines = [f"run {name}".rstrip(), ""]
    mode = setup.get("mode", "?")
    rows = [
        ("files (train / test)", f"{final['train_files']:.0f} / {final['test_files']:.0f}"),
        ("keys", ", ".join(setup.get("keys", []))),
        ("inputs x neurons", f"{final['n_inputs']:.0f} x {final['n_neurons']:.0f} ({mode})"),
        (f"SNN test accuracy ({setup.get('tiles', '?')})", f"{final['test_accuracy']:.4f}"),
        ("logistic regression", f"{final['logreg_accuracy']:.4f}"),
        ("linear SVM", f"{final['svm_accuracy']:.4f}"),
        ("majority class", f"{final['majority_accuracy']:.4f}"),
        ("test files no neuron fired for", f"{final['silent_test_fraction']:.4f}"),
    ]
    if "labelled_neurons" in final:
        rows.append(("labelled neurons", f"{final['labelled_neurons']:.0f}"))
    rows += [
        ("energy per classified file", format_joules(final["energy_per_classified_file_J"])),
        ("energy per training file", format_joules(final["energy_per_training_file_J"])),
        ("training presentations", f"{final['training_presentations']:.0f}"),
    ]
    lines += [f"{key:32s} {value}" for key, value in rows]
    classes = setup.get("classes", [])
    if "per_class_accuracy" in record.curves and classes:
        confusion = record.curves["confusion"]
        lines += ["", f"  {'class':14s} {'test files':>10s} {'accuracy':>9s}"]
        for c, accuracy in zip(classes, record.curves["per_class_accuracy"], strict=True):
            count = int(confusion[classes.index(c)].sum())
            shown = f"{accuracy:>9.3f}" if count else f"{'-':>9s}"  # no test file of the class
            lines.append(f"  {c:14s} {count:>10d} {shown}")
    if "stream_files" in final:
        lines += ["", *_stream_lines(record)]
    lines += ["", "learning energy by category:", *_breakdown(record)]
    return "\n".join(lines)


def _stream_lines(record: RunRecord) -> list[str]:
    final = record.final
    subtree = record.setup.get("stream_subtree", "?")
    lines = [
        f"ingest stream: {final['stream_files']:.0f} files, the second half "
        f"({final['stream_new_files']:.0f}) from {subtree} (never seen in training):",
        f"  {'':10s} {'known files':>12s} {'new subtree':>12s} {'energy/file':>12s}",
    ]
    for name in ("frozen", "learning"):
        if f"stream_{name}_known_accuracy" in final:
            lines.append(
                f"  {name:10s} {final[f'stream_{name}_known_accuracy']:>12.4f} "
                f"{final[f'stream_{name}_new_accuracy']:>12.4f} "
                f"{format_joules(final[f'stream_{name}_energy_per_file_J']):>12s}"
            )
    return lines
