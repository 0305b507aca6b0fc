"""``memxbar devices`` and ``memxbar chips``: the shipped presets, their tables and figures."""

from __future__ import annotations

from pathlib import Path

from .options import integer_option, seed_max


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
    """``memxbar devices list|show|plot``."""
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
