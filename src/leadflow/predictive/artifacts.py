"""Versioned model artifacts: ``<models dir>/<workspace>/<name>-v<N>/`` with ``model.joblib`` and ``meta.json``.

``meta.json`` records the artifact format version, the leadflow version, the model's name and version, the
data window, the features, the split, the metrics and the SHA-256 of ``model.joblib``. A new version never
overwrites an old one: it is written to a temporary directory and renamed to the next free ``v<N>``.
Loading checks the format version (an artifact written by another format is refused with a message
saying which) and the checksum before unpickling.

Artifacts are pickles (joblib): load only files this installation wrote (the registry row keeps the
checksum, :func:`load` verifies it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadflow.predictive.errors import ArtifactError
from leadflow.predictive.train import Model

__all__ = ["FORMAT_VERSION", "READABLE_FORMATS", "Artifact", "list_artifacts", "load", "save"]

#: written by this leadflow; 2 added blended and cross-fitted (averaged) models, which a reader of format 1
#: cannot use - it now refuses them with a clear message instead of failing inside the model; 3 gives each
#: numeric feature a cubic spline in the linear design (``knots``) instead of decile indicators, which a
#: reader of format 2 would not build
FORMAT_VERSION = 3
#: formats this leadflow reads (format 1 models are plain logistic / LightGBM models, format 2 ones use decile
#: indicators: both still valid, the encoder builds whichever design the model was fitted on)
READABLE_FORMATS = (1, 2, 3)
MODEL_FILE, META_FILE = "model.joblib", "meta.json"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_DIR = re.compile(r"^(?P<name>[a-z][a-z0-9_-]{0,63})-v(?P<version>[1-9][0-9]*)$")


def _leadflow_version() -> str:
    try:
        from importlib.metadata import version

        return version("leadflow")
    except Exception:  # noqa: BLE001 - a source checkout without metadata
        return "0+unknown"


@dataclass(frozen=True)
class Artifact:
    path: Path
    name: str
    version: int
    checksum: str
    meta: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"


def check_name(name: str, what: str = "model name") -> str:
    if not _NAME.match(name or ""):
        raise ArtifactError(f"{what} {name!r}: use 1-64 lower-case letters, digits, '-' or '_', starting with a letter")
    return name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions(root: Path, name: str) -> list[int]:
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        m = _DIR.match(p.name)
        if m and m["name"] == name:
            out.append(int(m["version"]))
    return sorted(out)


def save(model: Model, meta: dict[str, Any], models_dir: str | Path, workspace: str, name: str) -> Artifact:
    """Write a new version of ``name`` and return it; never touches an existing version."""
    import joblib

    check_name(name)
    check_name(workspace.replace(".", "-"), "workspace slug")
    root = Path(models_dir) / workspace
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        joblib.dump({"format_version": FORMAT_VERSION, "model": model}, tmp / MODEL_FILE, compress=3)
        checksum = _sha256(tmp / MODEL_FILE)
        for _attempt in range(20):
            version = (_versions(root, name) or [0])[-1] + 1
            full = {"format_version": FORMAT_VERSION, "leadflow_version": _leadflow_version(), "name": name,
                    "version": version, "workspace": workspace, "created_at": datetime.now(UTC).isoformat(),
                    "checksum": checksum, "algorithm": model.algorithm, **meta}
            (tmp / META_FILE).write_text(json.dumps(full, indent=2, sort_keys=True, default=_json_default) + "\n")
            final = root / f"{name}-v{version}"
            try:
                final.mkdir()  # exclusive: fails when another writer took this version
            except FileExistsError:
                continue
            try:
                for f in (MODEL_FILE, META_FILE):
                    os.replace(tmp / f, final / f)
            except BaseException:
                shutil.rmtree(final, ignore_errors=True)
                raise
            return Artifact(final, name, version, checksum, full)
        raise ArtifactError(f"could not find a free version for {name} under {root}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, float):
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_meta(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    meta_path = p / META_FILE if p.is_dir() else p.with_name(META_FILE)
    if not meta_path.is_file():
        raise ArtifactError(f"{p}: not a leadflow model (no {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as exc:
        raise ArtifactError(f"{meta_path}: unreadable metadata ({exc})") from None
    fmt = meta.get("format_version")
    if fmt not in READABLE_FORMATS:
        raise ArtifactError(
            f"{p}: model format version {fmt!r} (written by leadflow {meta.get('leadflow_version', '?')}); this "
            f"leadflow ({_leadflow_version()}) reads formats {', '.join(map(str, READABLE_FORMATS))} only - "
            "retrain it with `leadflow predict train`")
    return meta


def load(path: str | Path, expected_checksum: str | None = None) -> tuple[Model, dict[str, Any]]:
    """The model and metadata of an artifact directory; refuses other formats and corrupt files."""
    import joblib

    p = Path(path)
    p = p if p.is_dir() else p.parent
    meta = read_meta(p)
    file = p / MODEL_FILE
    if not file.is_file():
        raise ArtifactError(f"{p}: {MODEL_FILE} is missing")
    digest = _sha256(file)
    for want in (meta.get("checksum"), expected_checksum):
        if want and digest != want:
            raise ArtifactError(f"{file}: checksum {digest[:12]}... does not match the recorded {want[:12]}...: "
                                "the file was changed or damaged; retrain")
    blob = joblib.load(file)
    if not isinstance(blob, dict) or blob.get("format_version") != meta.get("format_version") \
            or not isinstance(blob.get("model"), Model):
        raise ArtifactError(f"{file}: not a leadflow model of format {meta.get('format_version')!r}")
    return blob["model"], meta


def list_artifacts(models_dir: str | Path, workspace: str) -> list[dict[str, Any]]:
    root = Path(models_dir) / workspace
    out = []
    if root.is_dir():
        for p in sorted(root.iterdir()):
            if _DIR.match(p.name):
                try:
                    out.append({"path": str(p), **read_meta(p)})
                except ArtifactError as exc:
                    out.append({"path": str(p), "error": str(exc)})
    return out
