"""Program files: the YAML crossbar configuration and the HDF5 file of conductance arrays.

:func:`save_program` writes a :class:`~.program.Program` as a human-readable YAML crossbar
configuration (SI units) and, when conductance arrays are given, an HDF5 file next to it; both
are written atomically. :func:`load_program` and :func:`load_conductances` read them back with
the strict loader: the file is the parameter class :class:`ProgramFile`, so every problem is a
``ConfigError`` (a ``ValueError``) naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from ..crossbar.chip import ChipSpec
from ..devices import Device
from ..hw_configs import (
    ConfigError,
    InvalidParameter,
    Pairs,
    brief,
    build,
    dump,
    param,
    parse_yaml,
    read_yaml,
    section,
)
from ..hw_configs.files import atomic_write_bytes
from .network import Network
from .program import Block, InvalidPlacement, Program

__all__ = [
    "ProgramFile",
    "save_program",
    "load_program",
    "load_conductances",
    "program_to_yaml",
    "program_from_yaml",
]

FORMAT = "memxbar-program"
VERSION = 1


@dataclasses.dataclass(frozen=True)
class TileEntry:
    """One entry of ``tiles``: a block of a weight matrix on its own tile."""

    tile: int = param("tile index", ge=0)
    layer: str = param("layer name", nonempty=True)
    matrix: str = param("weight matrix of the layer", nonempty=True)
    rows: tuple[int, int] = param("[start, stop) of the matrix rows (inputs)", ge=0)
    cols: tuple[int, int] = param("[start, stop) of the matrix columns (outputs)", ge=0)

    def __post_init__(self):
        for name in ("rows", "cols"):
            start, stop = getattr(self, name)
            if stop <= start:
                raise InvalidParameter(name, f"expected start < stop, got [{start}, {stop}]")

    @classmethod
    def of(cls, b: Block) -> TileEntry:
        return cls(b.tile, b.layer, b.matrix, (b.row_start, b.row_stop), (b.col_start, b.col_stop))

    def block(self) -> Block:
        return Block(self.layer, self.matrix, self.tile, *self.rows, *self.cols)


@dataclasses.dataclass(frozen=True)
class PartialSumEntry:
    """One entry of ``partial_sums``: outputs of these tiles are added digitally."""

    layer: str = param("layer name", nonempty=True)
    matrix: str = param("weight matrix of the layer", nonempty=True)
    cols: tuple[int, int] = param("[start, stop) of the matrix columns (outputs)", ge=0)
    tiles: tuple[int, ...] = param("the tiles, in the order of their rows", ge=0)


@dataclasses.dataclass(frozen=True)
class ArrayEntry:
    """What the program YAML records of one conductance array of the HDF5 file."""

    shape: tuple[int, ...] = param("shape", ge=0, nonempty=False)
    dtype: str = param("NumPy dtype name")
    sha256: str = param("SHA-256 of the C-ordered bytes")

    def __post_init__(self):
        try:
            np.dtype(self.dtype)
        except (TypeError, ValueError):
            raise InvalidParameter("dtype", f"unknown dtype {brief(self.dtype)}") from None


@dataclasses.dataclass(frozen=True)
class ConductanceIndex:
    """The ``conductances`` section: the HDF5 file beside the YAML and what it holds."""

    file: str = param("file name of the HDF5 file, in the folder of the YAML", nonempty=True)
    arrays: Pairs[ArrayEntry] = param("the arrays: a mapping of name to shape, dtype, sha256")

    def __post_init__(self):
        if Path(self.file).name != self.file:
            raise InvalidParameter("file", f"expected a file name, got {brief(self.file)}")


@dataclasses.dataclass(frozen=True)
class ProgramFile:
    """A program YAML file; constructing it checks the placement and the partial sums."""

    format: Literal[FORMAT] = param("file format")
    version: Literal[VERSION] = param("format version")
    chip: ChipSpec = section("the chip")
    device: Device = section("the device model of the chip's device preset")
    network: Network = section("the network")
    tiles: tuple[TileEntry, ...] = param("the placement: one block of a matrix per tile")
    partial_sums: tuple[PartialSumEntry, ...] = param("outputs added digitally", nonempty=False)
    conductances: ConductanceIndex | None = section("the conductance arrays", default=None)
    program: Program = dataclasses.field(init=False, compare=False)

    def __post_init__(self):
        try:
            self.chip.check_device(self.device)
        except InvalidParameter as err:
            raise InvalidParameter(f"chip.{err.field}", err.message) from None
        blocks = tuple(entry.block() for entry in self.tiles)
        try:
            program = Program(self.network, self.chip, blocks, self.device)
        except InvalidPlacement as err:
            key = "tiles" if err.index is None else f"tiles[{err.index}]"
            raise InvalidParameter(key, err.message) from None
        expected = _partial_sums(program)
        for i in range(max(len(self.partial_sums), len(expected))):
            got = self.partial_sums[i] if i < len(self.partial_sums) else None
            want = expected[i] if i < len(expected) else None
            if got != want:
                shown = "nothing" if want is None else str(dump(want))
                raise InvalidParameter(
                    f"partial_sums[{i}]", f"does not match the tiles (expected {shown})"
                )
        object.__setattr__(self, "program", program)

    @classmethod
    def of(cls, program: Program, conductances: ConductanceIndex | None = None) -> ProgramFile:
        return cls(
            format=FORMAT,
            version=VERSION,
            chip=program.chip,
            device=program.device,
            network=program.network,
            tiles=tuple(TileEntry.of(b) for b in program.blocks),
            partial_sums=_partial_sums(program),
            conductances=conductances,
        )


def _partial_sums(program: Program) -> tuple[PartialSumEntry, ...]:
    return tuple(
        PartialSumEntry(p.layer, p.matrix, (p.col_start, p.col_stop), p.tiles)
        for p in program.partial_sums()
    )


# --- writing -----------------------------------------------------------------------------------


class _Flow(dict):
    """A mapping written on one line."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _represent_list(dumper, data):
    flat = all(not isinstance(v, list | dict) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


def _represent_flow(dumper, data):
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


def _represent_float(dumper, value):
    """Floats as their shortest repr; large whole numbers in exponent form (1.0e+09, not
    1000000000.0), when that reads back as the same float."""
    text = repr(value)
    if "e" not in text and abs(value) >= 1e6 and value == int(value):
        mantissa, exponent = f"{value:.12e}".split("e")
        short = f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"
        short = short if "." in short.split("e")[0] else short.replace("e", ".0e", 1)
        if float(short) == value:
            return dumper.represent_scalar("tag:yaml.org,2002:float", short)
    return dumper.represent_float(value)


_Dumper.add_representer(float, _represent_float)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(_Flow, _represent_flow)

_HEADER = """\
# memxbar program: a crossbar configuration compiled by `memxbar compile`.
# All values are in SI units (S, s, V, J, Hz), as the key suffixes say.
# tiles: one block of a weight matrix per tile; rows/cols are [start, stop) ranges of the matrix
#   (rows = inputs on word lines 0.., cols = outputs on bit lines 0..).
# partial_sums: outputs of these tiles (same matrix, same columns) are added digitally.
# conductances (when present): the HDF5 file next to this one, with shape, dtype and SHA-256.
"""

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]*$")


def save_program(
    program: Program,
    path: str | Path,
    conductances: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``program`` as YAML at ``path`` (and conductances as HDF5 next to it).

    Args:
        program: the compiled program.
        path: the YAML file to write; missing parent folders are created.
        conductances: optional arrays by name (e.g. one per tile, in S); written to
            ``path.with_suffix('.h5')`` with their shape, dtype and SHA-256 listed in the YAML.

    Both files are written atomically (temporary file, fsync, rename), the HDF5 file first, so
    a crash never leaves a YAML file that names a missing or partial HDF5 file.

    Returns:
        ``path`` as a Path (``load_program(save_program(p, f)) == p``).
    """
    path = Path(path)
    if path.suffix == ".h5":
        raise ValueError(f"{path}: a program file needs a YAML name (the .h5 file goes beside it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    index = None
    if conductances:
        arrays = _checked_arrays(conductances)
        h5_path = path.with_suffix(".h5")
        _write_h5_atomically(h5_path, arrays)
        entries = {
            name: ArrayEntry(tuple(a.shape), a.dtype.name, _digest(a)) for name, a in arrays.items()
        }
        index = ConductanceIndex(h5_path.name, tuple(sorted(entries.items())))
    atomic_write_bytes(path, _text_of(ProgramFile.of(program, index)).encode("utf-8"))
    return path


def program_to_yaml(program: Program) -> str:
    """The YAML text :func:`save_program` writes for ``program`` (without conductances)."""
    return _text_of(ProgramFile.of(program))


def _text_of(file: ProgramFile) -> str:
    document = dump(file)
    document["tiles"] = [_Flow(entry) for entry in document["tiles"]]
    document["partial_sums"] = [_Flow(entry) for entry in document["partial_sums"]]
    if document["conductances"] is None:
        del document["conductances"]
    return _HEADER + yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )


def _checked_arrays(conductances: Mapping[str, Any]) -> dict[str, np.ndarray]:
    arrays = {}
    for name, value in conductances.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"conductance array name {brief(name)}: use letters, digits and _ . : - "
                "(not starting with . : -)"
            )
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"conductance array '{name}': expected numbers, got {array.dtype}")
        arrays[name] = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
    return arrays


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _write_h5_atomically(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["format"] = FORMAT + "-conductances"
        for name, array in arrays.items():
            f.create_dataset(name, data=array)
    atomic_write_bytes(path, buffer.getvalue())


# --- reading -----------------------------------------------------------------------------------


def load_program(path: str | Path) -> Program:
    """Read a program YAML (and check its HDF5 conductance file, when it names one).

    Raises:
        ConfigError (a ValueError) naming the file and key: missing or malformed YAML, an
            unknown or missing key, a wrong value, an invalid placement, partial sums that do
            not match the tiles, or an HDF5 file that is missing, truncated, corrupt or does not
            hold the arrays the YAML lists.
    """
    program, _ = _read(Path(path), want_arrays=False)
    return program


def load_conductances(path: str | Path) -> dict[str, np.ndarray]:
    """The conductance arrays saved with the program at ``path`` (``{}`` when none were given).

    Raises:
        ConfigError (a ValueError), as :func:`load_program`.
    """
    _, arrays = _read(Path(path), want_arrays=True)
    return arrays


def program_from_yaml(text: str, source: str = "<program>") -> Program:
    """A program from the text :func:`program_to_yaml` wrote (e.g. the ``/config/program_yaml``
    of a run file); conductance files are not read.

    Raises:
        ConfigError (a ValueError) naming ``source`` and the key, as :func:`load_program`.
    """
    return build(ProgramFile, parse_yaml(text, source), source=source).program


def _read(path: Path, want_arrays: bool) -> tuple[Program, dict[str, np.ndarray]]:
    file = build(ProgramFile, read_yaml(path), source=str(path))
    arrays = {}
    if file.conductances is not None:
        expected = {
            name: (entry.shape, np.dtype(entry.dtype), entry.sha256)
            for name, entry in file.conductances.arrays
        }
        arrays = _read_h5(path.parent / file.conductances.file, expected, want_arrays)
    return file.program, arrays


def _read_h5(
    path: Path, expected: Mapping[str, tuple[tuple[int, ...], np.dtype, str]], want_arrays: bool
) -> dict[str, np.ndarray]:
    import h5py

    source = str(path)
    if not path.is_file():
        raise ConfigError(source, "<file>", "file does not exist (the program YAML names it)")
    arrays: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            present = set(f.keys())
            extra = sorted(present - set(expected))
            if extra:
                raise ConfigError(source, extra[0], "is not listed in the program YAML")
            for name, (shape, dtype, digest) in expected.items():
                if name not in present or not isinstance(f[name], h5py.Dataset):
                    raise ConfigError(source, name, "is missing (the program YAML lists it)")
                array = f[name][()]
                if array.shape != shape or array.dtype != dtype:
                    raise ConfigError(
                        source,
                        name,
                        f"is {array.dtype.name}{list(array.shape)}, the program YAML says "
                        f"{dtype.name}{list(shape)}",
                    )
                if _digest(array) != digest:
                    raise ConfigError(
                        source, name, "data do not match their SHA-256 checksum (file corrupt)"
                    )
                if want_arrays:
                    arrays[name] = array
    except ConfigError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        detail = " ".join(str(err).split())
        raise ConfigError(
            source, "<file>", f"not a readable HDF5 file (truncated or corrupt?): {detail}"
        ) from None
    return arrays
