"""``memxbar data fetch|list``: the data sets, downloaded and checked."""

from __future__ import annotations

import sys


def _data_fetch(args) -> int:
    from ..runtime.data.fetch import fetch
    from ..runtime.interrupt import EXIT_INTERRUPTED, immediate

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
    from ..runtime.data.fetch import list_data

    root, presences = list_data(args.dir)
    print(f"data folder: {root}")
    for p in presences:
        shown = p.folder.relative_to(root) if p.folder.is_relative_to(root) else p.folder
        where = f" --dir {args.dir}" if args.dir else ""
        hint = f" (memxbar data fetch {p.source.name}{where})" if p.state != "complete" else ""
        print(f"{p.source.name:8s} {p.state:11s} {str(shown) + '/':22s} {p.detail}{hint}")
    return 0


def add_data_commands(commands) -> None:
    from ..runtime.data.home import default_data_dir

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
