"""申报材料 kept with a case: the checklist ticked at registration and scanned files.

Files go to `<upload_dir>/cases/<case id>/` under random names; the original
name is only kept in the manifest beside them, so nothing a user typed ever
becomes a path. A file is accepted only when its first bytes say it is a PDF,
JPEG or PNG (the browser's Content-Type is not trusted) and it is at most
`MAX_FILE_BYTES`. Each change is written to a new manifest file that replaces
the old one, so a crash never leaves half a manifest.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from backend.errors import BadInput, NotFound

MAX_FILE_BYTES = 10 * 1024 * 1024
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
)


@dataclass
class StoredFile:
    file_id: str
    material: str
    original_name: str
    size: int
    content_type: str
    uploaded_at: str
    uploaded_by: str


@dataclass
class Manifest:
    checklist: list[dict[str, Any]] = field(default_factory=list)
    files: list[StoredFile] = field(default_factory=list)


def case_dir(upload_dir: Path, case_id: int) -> Path:
    return upload_dir / "cases" / str(int(case_id))


def read_manifest(upload_dir: Path, case_id: int) -> Manifest:
    path = case_dir(upload_dir, case_id) / "manifest.json"
    if not path.exists():
        return Manifest()
    data = json.loads(path.read_text(encoding="utf-8"))
    return Manifest(
        checklist=list(data.get("checklist", [])),
        files=[StoredFile(**item) for item in data.get("files", [])],
    )


def write_manifest(upload_dir: Path, case_id: int, manifest: Manifest) -> None:
    directory = case_dir(upload_dir, case_id)
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".manifest.{secrets.token_hex(4)}.tmp"
    partial.write_text(
        json.dumps(
            {"checklist": manifest.checklist, "files": [asdict(f) for f in manifest.files]},
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    os.replace(partial, directory / "manifest.json")


def sniff(head: bytes) -> tuple[str, str]:
    for signature, extension, content_type in SIGNATURES:
        if head.startswith(signature):
            return extension, content_type
    raise BadInput("只接受 PDF、JPG、PNG 文件 / only PDF, JPEG and PNG files are accepted")


def store_file(
    upload_dir: Path,
    case_id: int,
    *,
    stream: IO[bytes],
    original_name: str,
    material: str,
    actor: str,
    now: datetime,
) -> StoredFile:
    head = stream.read(16)
    extension, content_type = sniff(head)
    directory = case_dir(upload_dir, case_id)
    directory.mkdir(parents=True, exist_ok=True)
    file_id = secrets.token_hex(12)
    target = directory / f"{file_id}.{extension}"
    size = len(head)
    with target.open("wb") as output:
        output.write(head)
        while chunk := stream.read(64 * 1024):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                output.close()
                target.unlink(missing_ok=True)
                raise BadInput("文件不能超过 10 MB / a file may be at most 10 MB")
            output.write(chunk)
    if size <= len(head):
        target.unlink(missing_ok=True)
        raise BadInput("文件为空 / the file is empty")
    stored = StoredFile(
        file_id=file_id,
        material=material[:200],
        original_name=Path(original_name or "file").name[:120],
        size=size,
        content_type=content_type,
        uploaded_at=now.isoformat(),
        uploaded_by=actor,
    )
    manifest = read_manifest(upload_dir, case_id)
    manifest.files.append(stored)
    write_manifest(upload_dir, case_id, manifest)
    return stored


def file_path(upload_dir: Path, case_id: int, file_id: str) -> tuple[Path, StoredFile]:
    manifest = read_manifest(upload_dir, case_id)
    for stored in manifest.files:
        if stored.file_id == file_id:
            extension = next(e for _s, e, t in SIGNATURES if t == stored.content_type)
            return case_dir(upload_dir, case_id) / f"{file_id}.{extension}", stored
    raise NotFound("文件不存在 / no such file")
