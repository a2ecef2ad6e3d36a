"""What an import reads: files from a folder, a zip or an upload, each handed to a reader as bytes.

A zip is opened here rather than by each reader, so every format takes the same limits: no member
outside the archive's own folder, no more members or bytes than a team's postmortems could plausibly
be (a small archive that expands to gigabytes is refused, not unpacked).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .records import ReadFailure

MAX_MEMBERS = 50_000
MAX_MEMBER_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    """One file to read: `name` is its path inside the folder or zip (or the upload's name)."""

    name: str
    data: bytes

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix.lower()


def _skipped(name: str) -> bool:
    """Files an archive or a folder carries that are nobody's postmortem (macOS resource forks, dot files)."""
    parts = PurePosixPath(name).parts
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def is_zip(name: str, data: bytes) -> bool:
    """A zip of postmortems: named .zip, or a zip with no extension at all. A workbook (.xlsx) is a zip
    too, and is read as the one file it is."""
    suffix = PurePosixPath(name).suffix.lower()
    return suffix == ".zip" or (suffix == "" and data[:4] == b"PK\x03\x04")


def zip_members(name: str, data: bytes, *, wanted) -> Iterator[SourceFile | ReadFailure]:
    """The members of the zip `data` that `wanted(member_name)` accepts, named "archive.zip/path"."""
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        yield ReadFailure(name, "Not a readable zip archive.")
        return
    members = [m for m in archive.infolist() if not m.is_dir() and not _skipped(m.filename)]
    if len(members) > MAX_MEMBERS:
        yield ReadFailure(name, f"The archive holds {len(members):,} files; at most {MAX_MEMBERS:,} are read.")
        return
    if sum(m.file_size for m in members) > MAX_TOTAL_BYTES:
        yield ReadFailure(name, f"The archive expands to more than {MAX_TOTAL_BYTES // 2**20:,} MB.")
        return
    for member in members:
        origin = f"{name}/{member.filename}"
        if not wanted(member.filename):
            continue
        if member.file_size > MAX_MEMBER_BYTES:
            yield ReadFailure(origin, f"Larger than {MAX_MEMBER_BYTES // 2**20} MB.")
            continue
        try:
            yield SourceFile(origin, archive.read(member))
        except (zipfile.BadZipFile, OSError, RuntimeError) as error:  # RuntimeError: an encrypted member
            yield ReadFailure(origin, f"Could not be unpacked: {error}")


def upload_files(name: str, data: bytes, *, wanted) -> Iterator[SourceFile | ReadFailure]:
    """An uploaded file: the members of a zip, or the file itself."""
    if is_zip(name, data):
        yield from zip_members(name, data, wanted=wanted)
    else:
        yield SourceFile(name, data)


def path_files(paths: list[str], *, wanted) -> Iterator[SourceFile | ReadFailure]:
    """Files named on the command line: a file, every accepted file under a folder (sorted), or a zip's members."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = found.relative_to(path).as_posix()
                if _skipped(relative) or not (wanted(found.name) or is_zip(found.name, b"")):
                    continue
                yield from _one_path(found, f"{path.name}/{relative}", wanted=wanted)
        elif path.is_file():
            yield from _one_path(path, path.name, wanted=wanted)
        else:
            yield ReadFailure(given, "No such file or folder.")


def _one_path(path: Path, name: str, *, wanted) -> Iterator[SourceFile | ReadFailure]:
    if path.stat().st_size > MAX_TOTAL_BYTES:
        yield ReadFailure(name, f"Larger than {MAX_TOTAL_BYTES // 2**20:,} MB.")
        return
    yield from upload_files(name, path.read_bytes(), wanted=wanted)
