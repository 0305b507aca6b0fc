"""``memxbar devices`` and ``memxbar chips``: the shipped presets, their tables and figures."""

from __future__ import annotations

from pathlib import Path

from .options import BadOption, integer_option, seed_max


def _devices_list(args) -> int:
    from ..devices import load_preset
    from ..hw_configs import preset_names

    for name in preset_names("devices"):
        model = load_preset(name)
        print(f"{name:24s} {type(model).__name__:16s} {model.description}")
    return 0


def _print_parameters(preset) -> None:
    """The parameter table of a preset: key, value with an engineering prefix, unit, meaning."""
    from ..hw_configs import describe

    rows = [r for r in describe(preset) if r[0] != "description"]
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{'parameter':{width}s}  {'value':>{vwidth}s}  {'unit':4s}  meaning")
    for key, value, unit, doc in rows:
        print(f"{key:{width}s}  {value:>{vwidth}s}  {unit:4s}  {doc}")


def _devices_show(args) -> int:
    from ..devices import load_preset

    model = load_preset(args.preset)
    print(f"{args.preset}: {type(model).__name__} — {model.description}")
    _print_parameters(model)
    return 0


def _preset_stem(name_or_path: str) -> str:
    """A preset's name for file names: the name itself, or a YAML path's stem."""
    path = Path(name_or_path)
    return path.stem if path.suffix in (".yaml", ".yml") else path.name


def _devices_plot(args) -> int:
    from ..devices import load_preset
    from ..runtime.report.device_figures import write_device_figures

    model = load_preset(args.preset)
    out = Path(args.output)
    prefix = f"{_preset_stem(args.preset)}_"
    paths = write_device_figures(model, out, n_devices=args.devices, seed=args.seed, prefix=prefix)
    for path in paths:
        print(path)
    return 0


def _devices_synthesize(args) -> int:
    import jax

    from ..devices import load_preset
    from ..devices.fitting import standard_design, synthesize, write_measurements
    from ..hw_configs.files import check_output_file

    out = check_output_file(args.output)
    model = load_preset(args.model)
    design = standard_design(args.pulses, args.reads, args.drift_times)
    data = synthesize(model, design, args.devices, key=jax.random.key(args.seed))
    comment = (
        f"synthesized by memxbar devices synthesize --model {args.model} --devices "
        f"{args.devices} --pulses {args.pulses} --reads {args.reads} --seed {args.seed}"
    )
    write_measurements(out, data, comment)
    print(f"{out}: {args.devices} devices, {design.describe()}")
    return 0


def _devices_fit(args) -> int:
    import jax

    from ..devices import load_preset
    from ..devices.fitting import fit_device, read_measurements
    from ..devices.fitting.preset_writer import write_fitted_preset
    from ..hw_configs import format_si, preset_path
    from ..hw_configs.files import check_output_file

    out = check_output_file(args.output)
    data = read_measurements(args.measurements)
    base = load_preset(args.model)
    fit = fit_device(data, base, key=jax.random.key(args.seed))
    write_fitted_preset(out, fit, preset_path("devices", args.model), base_name=args.model)
    print(f"{args.measurements}: {fit.n_devices} devices, {data.design.describe()}")
    print(f"{'parameter':34s} {'base':>10s} {'fitted':>10s} {'± sigma':>10s}")
    for field, base_value, value, sigma in fit.table():
        unit = "S" if field.endswith("_S") else ""
        shown = [format_si(v, unit) if unit else f"{v:.4g}" for v in (base_value, value, sigma)]
        print(f"{field:34s} {shown[0]:>10s} {shown[1]:>10s} {shown[2]:>10s}")
    for field, why in fit.kept.items():
        print(f"{field:34s} kept: {why}")
    print(
        f"chi2 {fit.chi2:.1f} for {fit.dof} dof; rms mean SET curve "
        f"{fit.rms_uS['mean_curve']:.3g} µS; {fit.iterations} steps in {fit.seconds:.1f} s"
    )
    print(out)
    if args.plot is not None:
        from ..runtime.report.device_fit_figures import write_fit_figures

        prefix = f"{Path(out).stem}_"
        for path in write_fit_figures(data, fit, args.plot, prefix=prefix, seed=args.seed):
            print(path)
    return 0


def _devices_compare(args) -> int:
    from ..devices import load_preset
    from ..devices.fitting.compare import compare_rows

    a, b = load_preset(args.a), load_preset(args.b)
    names = (_preset_stem(args.a), _preset_stem(args.b))
    rows = compare_rows(a, b)
    for name, model in zip(names, (a, b), strict=True):
        print(f"{name}: {type(model).__name__} — {model.description}")
    width = max(len(r[0]) for r in rows)
    wa = max(len(names[0]), *(len(r[1]) for r in rows))
    wb = max(len(names[1]), *(len(r[2]) for r in rows))
    print(f"  {'parameter':{width}s}  {names[0]:>{wa}s}  {names[1]:>{wb}s}")
    for key, va, vb, differs in rows:
        print(f"{'*' if differs else ' '} {key:{width}s}  {va:>{wa}s}  {vb:>{wb}s}")
    print(f"* differs: {sum(r[3] for r in rows)} of {len(rows)} parameters")
    if args.plot is not None:
        from ..runtime.report.device_fit_figures import write_compare_figures

        models = {names[0]: a, names[1]: b}
        prefix = f"{names[0]}_vs_{names[1]}_"
        for path in write_compare_figures(
            models, args.plot, prefix=prefix, n_devices=args.devices, seed=args.seed
        ):
            print(path)
    return 0


def _drift_times(text: str):
    """An argparse ``type``: comma-separated read times > 0 s (or 'none'), else BadOption."""
    if text.strip().lower() == "none":
        return ()
    try:
        times = tuple(float(part) for part in text.split(","))
    except ValueError:
        times = (-1.0,)
    if any(not (0 < t < float("inf")) for t in times):
        return BadOption(
            f"--drift-times: expected comma-separated seconds > 0 or none, got {text!r}"
        )
    return times


def _chips_list(args) -> int:
    from ..crossbar import load_chip
    from ..hw_configs import preset_names

    for name in preset_names("chips"):
        print(f"{name:24s} {load_chip(name).description}")
    return 0


def _chips_show(args) -> int:
    from ..crossbar import load_chip

    chip = load_chip(args.preset)
    print(f"{args.preset}: {chip.description}")
    _print_parameters(chip)
    return 0


def _preset_commands(commands, category: str, list_, show):
    """``memxbar CATEGORY list|show``; returns the subcommands, for more of them."""
    what = category.removesuffix("s")
    group = commands.add_parser(category, help=f"inspect {what} presets")
    subcommands = group.add_subparsers(dest=f"{category}_command", required=True)
    listing = subcommands.add_parser("list", help=f"list the shipped {what} presets")
    listing.set_defaults(func=list_)
    table = subcommands.add_parser("show", help=f"table of a {what} preset's parameters")
    table.add_argument("preset", help=f"preset name (see 'memxbar {category} list') or YAML path")
    table.set_defaults(func=show)
    return subcommands


def add_chips_commands(commands) -> None:
    """``memxbar chips list|show``."""
    _preset_commands(commands, "chips", _chips_list, _chips_show)


def add_devices_commands(commands) -> None:
    """``memxbar devices list|show|plot|synthesize|fit|compare``."""
    dev_cmds = _preset_commands(commands, "devices", _devices_list, _devices_show)
    plot = dev_cmds.add_parser(
        "plot", help="PNG figures of a preset's device behaviour (PRESET_<figure>.png)"
    )
    plot.add_argument("preset", help="preset name or YAML path")
    plot.add_argument(
        "-o",
        "--output",
        default="figures",
        help="output folder (default: figures); files are named after the preset, so presets "
        "can share a folder",
    )
    plot.add_argument(
        "--devices",
        type=integer_option("--devices", 1),
        default=2000,
        help="devices simulated per curve (default 2000)",
    )
    plot.add_argument(
        "--seed",
        type=integer_option("--seed", 0, seed_max),
        default=0,
        help="PRNG seed (default 0)",
    )
    plot.set_defaults(func=_devices_plot)
    _fit_commands(dev_cmds)


def _seed_option(parser) -> None:
    parser.add_argument(
        "--seed",
        type=integer_option("--seed", 0, seed_max),
        default=0,
        help="PRNG seed (default 0)",
    )


def _fit_commands(dev_cmds) -> None:
    """``memxbar devices synthesize|fit|compare``."""
    synth = dev_cmds.add_parser(
        "synthesize", help="measurements CSV simulated from a preset (to try 'devices fit')"
    )
    synth.add_argument("--model", default="pcm_gst_pulse", help="pulse-level preset name or YAML")
    synth.add_argument("--devices", type=integer_option("--devices", 2), default=1000)
    synth.add_argument("--pulses", type=integer_option("--pulses", 1, 10_000), default=50)
    synth.add_argument(
        "--reads", type=integer_option("--reads", 1, 100), default=3, help="reads per point"
    )
    synth.add_argument(
        "--drift-times",
        type=_drift_times,
        default=(10.0, 100.0, 1000.0, 10000.0),
        help="read times after the last pulse, s (default 10,100,1000,10000; 'none')",
    )
    _seed_option(synth)
    synth.add_argument("-o", "--output", required=True, help="CSV file to write")
    synth.set_defaults(func=_devices_synthesize)

    fit = dev_cmds.add_parser(
        "fit", help="fit a pulse-level preset to measurements (CSV) and write it as YAML"
    )
    fit.add_argument(
        "measurements", help="CSV: device,pulse,G_uS[,t_read_s][,read_index] (see README)"
    )
    fit.add_argument("--model", default="pcm_gst_pulse", help="base preset name or YAML path")
    fit.add_argument("-o", "--output", required=True, help="preset YAML to write")
    fit.add_argument("--plot", metavar="DIR", help="also write the fit's figures into DIR")
    _seed_option(fit)
    fit.set_defaults(func=_devices_fit)

    compare = dev_cmds.add_parser("compare", help="two presets' parameters side by side")
    compare.add_argument("a", help="preset name or YAML path")
    compare.add_argument("b", help="preset name or YAML path")
    compare.add_argument("--plot", metavar="DIR", help="also overlay their figures in DIR")
    compare.add_argument(
        "--devices",
        type=integer_option("--devices", 2),
        default=1000,
        help="devices per curve of the figures (default 1000)",
    )
    _seed_option(compare)
    compare.set_defaults(func=_devices_compare)
