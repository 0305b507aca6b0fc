"""``memxbar compile``, ``run`` and ``report``: jobs onto chips, runs and their files."""

from __future__ import annotations

from pathlib import Path

from .options import eval_times, integer_option, seed_max


def _compile(args) -> int:
    from ..compiler import compile_network, mapping_report, save_program
    from ..hw_configs.files import check_output_file
    from ..runtime.job import load_job

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


def add_compile_command(commands) -> None:
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
    from ..runtime.job import load_job
    from ..runtime.loop import run_job
    from ..runtime.report.plots import write_run_plots
    from ..runtime.report.summary import format_summary

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


def _report(args) -> int:
    from ..runtime.report.comparison import format_comparison
    from ..runtime.report.plots import write_run_plots
    from ..runtime.report.summary import format_summary
    from ..runtime.report.sweep_plots import write_sweep_plots
    from ..runtime.report.sweep_table import format_sweep_table
    from ..runtime.run_file import read_run_file
    from ..runtime.sweep import is_sweep_file, read_sweep_file

    paths = [Path(p) for p in args.runs]
    sweeps = [p for p in paths if is_sweep_file(p)]
    if sweeps:
        if len(sweeps) != len(paths):
            raise ValueError("report: give sweep files (memxbar sweep) or run files, not both")
        swept = [read_sweep_file(p) for p in paths]  # every file checked before printing
        for i, (path, record) in enumerate(zip(paths, swept, strict=True)):
            print(("\n" if i else "") + f"{path}:\n{format_sweep_table(record)}")
            if not args.no_plots:
                for plot in write_sweep_plots(record, path.parent, prefix=f"{path.stem}_"):
                    print(f"wrote {plot}")
        return 0
    records = [read_run_file(path) for path in paths]  # every file checked before printing
    for i, (path, record) in enumerate(zip(paths, records, strict=True)):
        print(("\n" if i else "") + format_summary(record, path.stem))
        if not args.no_plots:
            for plot in write_run_plots(record, path.parent, prefix=f"{path.stem}_"):
                print(f"wrote {plot}")
    if len(records) > 1:
        print("\n" + format_comparison(records, [path.stem for path in paths]))
    return 0


def add_run_commands(commands) -> None:
    run = commands.add_parser("run", help="train a job on its emulated chip and evaluate it")
    run.add_argument(
        "job", help="job YAML file (kind: rate, the default; spiking; recurrent; ststdp; files)"
    )
    run.add_argument("-o", "--output", default=None, help="run file (default: JOB_NAME.h5)")
    run.add_argument(
        "--seed",
        type=integer_option("--seed", 0, seed_max),
        default=None,
        help="PRNG seed (default: the job's)",
    )
    run.add_argument(
        "--epochs",
        type=integer_option("--epochs", 1),
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
        type=eval_times,
        default=None,
        help="drift study: seconds after training, comma-separated (e.g. 1,3600,86400,2.6e6)",
    )
    run.add_argument(
        "--data-dir",
        default=None,
        help="data folder for mnist, cifar10, stl10 (default: $MEMXBAR_DATA, else the "
        "per-user folder that 'memxbar data fetch' fills); for a files job, where a relative "
        "data.csv is (default: the job file's folder)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    report = commands.add_parser(
        "report",
        help="print run files' summaries and redraw their plots; several: a comparison table",
    )
    report.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run file (.h5) of 'memxbar run', or sweep file of 'memxbar sweep' (its table)",
    )
    report.add_argument("--no-plots", action="store_true", help="only print the summary")
    report.set_defaults(func=_report)
