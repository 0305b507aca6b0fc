"""The ``memxbar`` command line.

Every user error (bad YAML, unknown preset, unwritable output, ...) is printed as one line on
stderr with exit code 2; tracebacks are reserved for bugs. ``memxbar`` with no command prints
the help on stdout and exits 0 (asking what the tool does is not an error); ``--help`` ends
with the energy figures' definitions, the exit codes and where a run's checkpoint lives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class _BadOption:
    """An option value that failed its check; :func:`main` reports it as one error line.

    argparse would print its usage and a second line for a value its ``type`` refuses; the
    CLI's contract for bad input is one line, so the type functions below return this instead.
    """

    def __init__(self, message: str):
        self.message = message


def _integer_option(option: str, low: int, high=None):
    """An argparse ``type``: an integer in ``low`` … ``high`` (a number, a function giving
    it, or None: no bound), else a :class:`_BadOption` naming ``option``."""

    def convert(text: str):
        from .hw_configs import brief

        top = high() if callable(high) else high
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (top is not None and value > top):
            expected = f"{low} … {top}" if top is not None else f"≥ {low}"
            return _BadOption(f"{option}: expected an integer {expected}, got {brief(text)}")
        return value

    return convert


def _seed_max() -> int:
    from .runtime.job import SEED_MAX  # imports the runtime: only when --seed is given

    return SEED_MAX


def _devices_list(args) -> int:
    from .devices import load_preset
    from .hw_configs import preset_names

    for name in preset_names("devices"):
        model = load_preset(name)
        print(f"{name:24s} {type(model).__name__:16s} {model.description}")
    return 0


def _print_parameters(preset) -> None:
    """The parameter table of a preset: key, value with an engineering prefix, unit, meaning."""
    from .hw_configs import describe

    rows = [r for r in describe(preset) if r[0] != "description"]
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{'parameter':{width}s}  {'value':>{vwidth}s}  {'unit':4s}  meaning")
    for key, value, unit, doc in rows:
        print(f"{key:{width}s}  {value:>{vwidth}s}  {unit:4s}  {doc}")


def _devices_show(args) -> int:
    from .devices import load_preset

    model = load_preset(args.preset)
    print(f"{args.preset}: {type(model).__name__} — {model.description}")
    _print_parameters(model)
    return 0


def _preset_stem(name_or_path: str) -> str:
    """A preset's name for file names: the name itself, or a YAML path's stem."""
    path = Path(name_or_path)
    return path.stem if path.suffix in (".yaml", ".yml") else path.name


def _devices_plot(args) -> int:
    from .devices import load_preset
    from .runtime.device_figures import write_device_figures

    model = load_preset(args.preset)
    out = Path(args.output)
    prefix = f"{_preset_stem(args.preset)}_"
    paths = write_device_figures(model, out, n_devices=args.devices, seed=args.seed, prefix=prefix)
    for path in paths:
        print(path)
    return 0


def _chips_list(args) -> int:
    from .crossbar import load_chip
    from .hw_configs import preset_names

    for name in preset_names("chips"):
        print(f"{name:24s} {load_chip(name).description}")
    return 0


def _chips_show(args) -> int:
    from .crossbar import load_chip

    chip = load_chip(args.preset)
    print(f"{args.preset}: {chip.description}")
    _print_parameters(chip)
    return 0


def _add_chips_commands(commands) -> None:
    chips = commands.add_parser("chips", help="inspect chip presets")
    chip_cmds = chips.add_subparsers(dest="chips_command", required=True)
    chip_cmds.add_parser("list", help="list the shipped chip presets").set_defaults(
        func=_chips_list
    )
    show = chip_cmds.add_parser("show", help="table of a chip preset's parameters with units")
    show.add_argument("preset", help="preset name (see 'memxbar chips list') or YAML path")
    show.set_defaults(func=_chips_show)


def _compile(args) -> int:
    from .compiler import compile_network, mapping_report, save_program
    from .hw_configs.files import check_output_file
    from .runtime.job import load_job

    if args.output is not None:
        check_output_file(args.output)
    job = load_job(args.job)
    chip = job.chip()
    program = compile_network(job.network, chip, device=job.device(chip))
    print(mapping_report(program, job.hardware.tiles))
    if args.output is not None:
        path = save_program(program, args.output)
        print(f"wrote {path}")
    return 0


def _add_compile_command(commands) -> None:
    compile_ = commands.add_parser(
        "compile", help="place a job's network onto its chip and print the mapping report"
    )
    compile_.add_argument("job", help="job YAML file (network and hardware.chip)")
    compile_.add_argument(
        "-o", "--output", default=None, help="write the program (crossbar configuration) YAML here"
    )
    compile_.set_defaults(func=_compile)


#: ``memxbar run`` options that only some job kinds take (``job.run_options``):
#: option → the run's keyword (also the argparse destination).
_KIND_OPTIONS = {"--epochs": "epochs", "--eval-times": "eval_times_s", "--data-dir": "data_dir"}


def _run(args) -> int:
    from .runtime.job import load_job
    from .runtime.loop import run_job
    from .runtime.plots import write_run_plots
    from .runtime.summary import format_summary

    job = load_job(args.job)
    out = Path(args.output) if args.output else Path(f"{job.name}.h5")
    options = {}
    for option, keyword in _KIND_OPTIONS.items():
        value = getattr(args, keyword)
        if value is None:
            continue
        if keyword not in job.run_options:
            raise ValueError(f"{option} does not apply to a {job.kind} job ({args.job})")
        options[keyword] = value
    # A stop request ends the run with RunInterrupted, which main() turns into exit 130.
    record = run_job(
        job,
        out,
        seed=args.seed,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.quiet,
        **options,
    )
    print(format_summary(record, job.name))
    print(f"\nwrote {out}")
    for path in write_run_plots(record, out.parent, prefix=f"{out.stem}_"):
        print(f"wrote {path}")
    return 0


def _eval_times(text: str):
    """An argparse ``type``: comma-separated positive seconds, else a :class:`_BadOption`."""
    try:
        times = tuple(float(part) for part in text.split(","))
    except ValueError:
        return _BadOption(
            f"--eval-times: expected comma-separated seconds (e.g. 1,3600,86400), got {text!r}"
        )
    if any(not (t > 0) or t == float("inf") for t in times):
        return _BadOption(
            f"--eval-times: every time must be a positive number of seconds: {text!r}"
        )
    return times


def _report(args) -> int:
    from .runtime.plots import write_run_plots
    from .runtime.run_file import read_run_file
    from .runtime.summary import format_summary

    path = Path(args.run)
    record = read_run_file(path)
    print(format_summary(record, path.stem))
    if not args.no_plots:
        for plot in write_run_plots(record, path.parent, prefix=f"{path.stem}_"):
            print(f"wrote {plot}")
    return 0


def _add_run_commands(commands) -> None:
    run = commands.add_parser("run", help="train a job on its emulated chip and evaluate it")
    run.add_argument("job", help="job YAML file (rate-based, or 'kind: spiking')")
    run.add_argument("-o", "--output", default=None, help="run file (default: JOB_NAME.h5)")
    run.add_argument(
        "--seed",
        type=_integer_option("--seed", 0, _seed_max),
        default=None,
        help="PRNG seed (default: the job's)",
    )
    run.add_argument(
        "--epochs",
        type=_integer_option("--epochs", 1),
        default=None,
        help="override training.epochs",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint (OUTPUT.ckpt) of an interrupted run",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="start again: delete an interrupted run's checkpoint, replace a finished run file",
    )
    run.add_argument(
        "--eval-times",
        dest="eval_times_s",
        type=_eval_times,
        default=None,
        help="drift study: seconds after training, comma-separated (e.g. 1,3600,86400,2.6e6)",
    )
    run.add_argument(
        "--data-dir",
        default=None,
        help="data folder for mnist, cifar10, stl10 (default: $MEMXBAR_DATA, else the "
        "per-user folder that 'memxbar data fetch' fills)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    report = commands.add_parser("report", help="print a run file's summary and redraw its plots")
    report.add_argument("run", help="run file (.h5) written by 'memxbar run'")
    report.add_argument("--no-plots", action="store_true", help="only print the summary")
    report.set_defaults(func=_report)


EXIT_CODES = (
    "exit codes: 0 success, 2 bad input or OS error (one line on stderr), 130 interrupted "
    "(Ctrl-C / SIGTERM; resume with --resume); checkpoint: OUTPUT.ckpt beside the run file. "
    "memxbar with no command prints this help (exit 0)."
)


def _epilog() -> str:
    import textwrap

    from .crossbar.energy_figures import figures_table

    return "\n".join(
        [
            "energy figures (compile estimates, run measures, report prints both):",
            figures_table(),
            "",
            *textwrap.wrap(EXIT_CODES, 78),
        ]
    )


def _data_fetch(args) -> int:
    from .runtime.fetch import fetch
    from .runtime.interrupt import EXIT_INTERRUPTED, immediate

    # No JAX here: Ctrl-C may interrupt a stalled network read at once.
    try:
        with immediate():
            folder = fetch(
                args.name,
                args.dir,
                mirror=args.mirror,
                progress=not args.quiet and sys.stderr.isatty(),
            )
    except KeyboardInterrupt:
        print("memxbar: interrupted: no partial file was kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{args.name}: ready in {folder}")
    return 0


def _data_list(args) -> int:
    from .runtime.fetch import list_data

    root, presences = list_data(args.dir)
    print(f"data folder: {root}")
    for p in presences:
        shown = p.folder.relative_to(root) if p.folder.is_relative_to(root) else p.folder
        where = f" --dir {args.dir}" if args.dir else ""
        hint = f" (memxbar data fetch {p.source.name}{where})" if p.state != "complete" else ""
        print(f"{p.source.name:8s} {p.state:11s} {str(shown) + '/':22s} {p.detail}{hint}")
    return 0


def _add_data_commands(commands) -> None:
    from .runtime.data_home import default_data_dir

    folder_help = (
        "data folder (default: $MEMXBAR_DATA if set, else the per-user folder "
        f"{default_data_dir()})"
    )
    data = commands.add_parser(
        "data",
        help="download and inspect data sets (MNIST, CIFAR-10, STL-10)",
        description="Download the official MNIST, CIFAR-10 and STL-10 files, checked against "
        "their published SHA-256, into the data folder where 'memxbar run' finds them.",
    )
    data_cmds = data.add_subparsers(dest="data_command", required=True)
    fetch = data_cmds.add_parser(
        "fetch",
        help="download a data set, verify its checksums and unpack it",
        description="Download a data set's official files with a progress bar, check each "
        "against its published SHA-256 (a mismatch is refused and deleted), unpack archives "
        "(CIFAR-10, STL-10) and skip what is already there and verified. Sizes: mnist 11 MB, "
        "cifar10 163 MB, stl10 2.5 GB (5.3 GB while unpacking).",
        epilog="Files go to DIR/mnist/, DIR/cifar-10-batches-py/ and DIR/stl10_binary/. "
        f"Default DIR: $MEMXBAR_DATA if set, else {default_data_dir()}. A mirror serves every "
        "file under its official name at its base URL (http://, https:// or file://); "
        "$MEMXBAR_DATA_MIRROR sets one too. Exit codes: 0 done, 2 error (network, checksum, "
        "folder), 130 interrupted.",
    )
    fetch.add_argument("name", choices=("mnist", "cifar10", "stl10"), help="the data set")
    fetch.add_argument("--dir", default=None, help=folder_help)
    fetch.add_argument(
        "--mirror",
        default=None,
        help="base URL to download from instead of the official sites "
        "(default: $MEMXBAR_DATA_MIRROR)",
    )
    fetch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=_data_fetch)
    list_ = data_cmds.add_parser(
        "list",
        help="show which data sets the data folder holds, complete and verified or not",
        description="For each data set: complete (checksums verified), absent, incomplete "
        "(files missing), unverified (files present but not fetched by memxbar) or corrupt.",
    )
    list_.add_argument("--dir", default=None, help=folder_help)
    list_.set_defaults(func=_data_list)


class _MainParser(argparse.ArgumentParser):
    """The top-level parser; its epilog is built when help is printed, since the energy
    figures' definitions import the crossbar package (and JAX)."""

    def format_help(self) -> str:
        if self.epilog is None:
            self.epilog = _epilog()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _MainParser(
        prog="memxbar",
        description="Emulate, compile for and learn on PCM crossbar chips.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"memxbar {__version__}")
    parser.set_defaults(func=lambda args: _print_help(parser))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    devices = commands.add_parser("devices", help="inspect device presets")
    dev_cmds = devices.add_subparsers(dest="devices_command", required=True)
    dev_cmds.add_parser("list", help="list the shipped device presets").set_defaults(
        func=_devices_list
    )
    show = dev_cmds.add_parser("show", help="table of a preset's parameters with units")
    show.add_argument("preset", help="preset name (see 'memxbar devices list') or YAML path")
    show.set_defaults(func=_devices_show)
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
        type=_integer_option("--devices", 1),
        default=2000,
        help="devices simulated per curve (default 2000)",
    )
    plot.add_argument(
        "--seed",
        type=_integer_option("--seed", 0, _seed_max),
        default=0,
        help="PRNG seed (default 0)",
    )
    plot.set_defaults(func=_devices_plot)
    _add_chips_commands(commands)
    _add_compile_command(commands)
    _add_run_commands(commands)
    _add_data_commands(commands)
    return parser


def _one_line(err: Exception) -> str:
    """The message of a user error on one line; an OSError names its file first."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        text = f"{err.filename}: {err.strerror}"
    else:
        text = str(err)
    return " ".join(text.split())


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def main(argv: list[str] | None = None) -> int:
    # First, before JAX loads: Ctrl-C and SIGTERM only request a stop, which long work honours
    # at its next safe point (runtime/interrupt.py says why).
    from .runtime import interrupt

    with interrupt.install():
        parser = build_parser()
        args = parser.parse_args(argv)
        try:
            for value in vars(args).values():
                if isinstance(value, _BadOption):
                    raise ValueError(value.message)
            return args.func(args)
        except (ValueError, OSError) as err:
            print(f"memxbar: error: {_one_line(err)}", file=sys.stderr)
            return 2
        except (KeyboardInterrupt, interrupt.RunInterrupted) as err:
            print(f"memxbar: interrupted: {err}".rstrip(": "), file=sys.stderr)
            return interrupt.EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
