"""Read and write model input/output tables: CSV or Parquet, with a fingerprint of the bytes."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from overdue.errors import BadInput

READ_CHUNK_BYTES = 1 << 20
MAX_CHUNKS = 1 << 20  # 1 TiB: a limit on the fingerprint loop
TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".csv.gz")


@dataclass(frozen=True)
class Fingerprint:
    """What identifies the training data: file name, sha256 of its bytes, rows and columns."""

    file: str
    sha256: str
    rows: int
    columns: int

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in TABLE_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for _ in range(MAX_CHUNKS):
            chunk = handle.read(READ_CHUNK_BYTES)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; one-line BadInput for a missing, empty or odd file."""
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    suffix = _suffix(path)
    if suffix not in TABLE_SUFFIXES:
        raise BadInput(f"{path}: unsupported file type {suffix!r} (use .csv or .parquet)")
    if path.stat().st_size == 0:
        raise BadInput(f"{path}: the file is empty")
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, low_memory=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"{path}: cannot read the table ({first})") from None
    if frame.shape[0] == 0:
        raise BadInput(f"{path}: the table has a header but no rows")
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise BadInput(f"{path}: duplicated column name {duplicated[0]!r}")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def fingerprint(path: Path, frame: pd.DataFrame) -> Fingerprint:
    return Fingerprint(
        file=path.name, sha256=file_sha256(path), rows=int(frame.shape[0]),
        columns=int(frame.shape[1]),
    )  # fmt: skip


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write by extension: .parquet (or .pq) as Parquet, anything else as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if _suffix(path) in (".parquet", ".pq"):
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    tmp.replace(path)
