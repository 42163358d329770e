"""Storage by URI: a local directory, or S3 and S3-compatible stores (GCS and others where
pyarrow's filesystems give them) by URI.

Local files are written with fsync and published by rename, so a batch part or a manifest is
either whole or absent, even after a crash. On an object store an object appears whole when
its (multipart) upload completes, and never if the writer dies first.

S3 credentials, region and endpoint come from the standard AWS chain (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_PROFILE, instance roles), or from
lake options stored encrypted with `sluice init --lake-options` (see LakeOptions).
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs
import sqlalchemy as sa

from sluice.core.errors import ConfigError, TerminalError
from sluice.core.redact import scrub
from sluice.lake.errors import translates_storage_errors
from sluice.lake.iceberg import LakeCatalog


@dataclass(frozen=True)
class FileEntry:
    path: str
    is_dir: bool
    size: int
    modified: float | None = None  # seconds since the epoch, where the store says


@translates_storage_errors
class HashingWriter:
    """A binary file wrapper that computes the SHA-256 and size of what passes through."""

    def __init__(self, raw: IO[bytes] | Any) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        self._hash.update(data)
        self._raw.write(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        # On an object store a flush uploads a multipart part, and parts under 5 MiB (but the
        # last) make the upload fail: let the stream cut its own parts; close() finishes it.
        if isinstance(self._raw, io.BufferedWriter):
            self._raw.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if isinstance(self._raw, io.BufferedWriter):
            self._raw.flush()
            os.fsync(self._raw.fileno())
        self._raw.close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class LakeOptions:
    """Object store settings that override the AWS chain; secrets never leave this object."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LakeOptions:
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(
                f"unknown lake option(s) {', '.join(sorted(unknown))}: use endpoint_url, region, "
                "access_key_id, secret_access_key, session_token"
            )
        return cls(**values)

    def secrets(self) -> list[str]:
        return [s for s in (self.secret_access_key, self.session_token) if s]


def _s3(options: LakeOptions) -> pafs.FileSystem:
    kwargs: dict[str, Any] = {}
    if options.endpoint_url:
        scheme, _, host = options.endpoint_url.partition("://")
        kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    if options.region:
        kwargs["region"] = options.region
    if options.access_key_id:
        kwargs.update(
            access_key=options.access_key_id,
            secret_key=options.secret_access_key,
            session_token=options.session_token,
        )
    return pafs.S3FileSystem(**kwargs)


def _s3_root(uri: str) -> str:
    """bucket/prefix of an s3:// URI used with lake options, which hold every setting."""
    parts = urlsplit(uri)
    if parts.query or parts.fragment:
        # from_uri would read ?region=... as settings; here they would become part of the
        # path, and the lake would silently move to an empty prefix.
        raise ConfigError(
            f"lake location {uri!r} carries settings after '?': with lake options, give the "
            "plain s3://bucket/prefix and put region and endpoint into the options"
        )
    if not parts.netloc:
        raise ConfigError(f"lake location {uri!r} names no bucket: use s3://bucket/prefix")
    return f"{parts.netloc}{parts.path}"


@translates_storage_errors
class LakeStore:
    """A root location and the few operations the lake needs on it."""

    def __init__(
        self, uri: str, options: LakeOptions | None = None, catalog: sa.Engine | None = None
    ) -> None:
        """`catalog`: the config database holding the lake's Iceberg catalog (lake/iceberg.py);
        without it (a lake opened for tests of its files alone) no Iceberg table is kept."""
        self.uri = uri
        if "://" in uri and not uri.startswith("file://"):
            try:
                if options is not None and uri.startswith("s3://"):
                    # Not from_uri: it asks AWS for the bucket's region before the options'
                    # endpoint and keys are known, and fails where only they reach the store.
                    self.fs, self.root = _s3(options), _s3_root(uri)
                else:
                    self.fs, self.root = pafs.FileSystem.from_uri(uri)
            except (ValueError, OSError) as exc:
                secrets = options.secrets() if options else []
                raise ConfigError(
                    scrub(
                        # The first line says it; pyarrow's next ones can be a hundred
                        # library paths it tried (hdfs:// without a JVM).
                        f"lake location {uri!r} cannot be opened: {str(exc).splitlines()[0]}; "
                        "use a local path or a URI such as s3://bucket/prefix, gs://bucket/"
                        "prefix or abfs://container@account.dfs.core.windows.net/prefix",
                        secrets,
                    )
                ) from None
            self.local = False
        else:
            path = Path(uri.removeprefix("file://")).expanduser().resolve()
            self.fs = pafs.LocalFileSystem()
            self.root = str(path)
            self.local = True
        self.root = self.root.rstrip("/")
        self.catalog = None if catalog is None else LakeCatalog(catalog, self)

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def display(self, path: str) -> str:
        """The path as a user would type it (a URI for object stores)."""
        if self.local:
            return path
        scheme = self.uri.split("://", 1)[0]
        return f"{scheme}://{path}"

    def list(self, path: str, *, recursive: bool = False) -> list[FileEntry]:
        selector = pafs.FileSelector(path, allow_not_found=True, recursive=recursive)
        return [
            FileEntry(
                path=info.path,
                is_dir=info.type == pafs.FileType.Directory,
                size=info.size or 0,
                modified=info.mtime.timestamp() if info.mtime is not None else None,
            )
            for info in self.fs.get_file_info(selector)
        ]

    def exists(self, path: str) -> bool:
        return bool(self.fs.get_file_info(path).type != pafs.FileType.NotFound)

    def make_dirs(self, path: str) -> None:
        self.fs.create_dir(path, recursive=True)

    def open_write(self, path: str) -> HashingWriter:
        if self.local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return HashingWriter(open(path, "wb"))
        return HashingWriter(self.fs.open_output_stream(path))

    def read_bytes(self, path: str) -> bytes:
        with self.fs.open_input_stream(path) as stream:
            data: bytes = stream.read()
            return data

    def sha256_of(self, path: str) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        with self.fs.open_input_stream(path) as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    def write_atomic(self, path: str, data: bytes) -> None:
        """Publish `data` at `path` all at once: readers see nothing or everything."""
        if self.local:
            temporary = Path(f"{path}.tmp-{os.getpid()}")
            temporary.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
            directory = os.open(str(Path(path).parent), os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            return
        # An object store's PUT is atomic: the object appears whole when the upload completes.
        with self.fs.open_output_stream(path) as stream:
            stream.write(data)

    def delete_dir(self, path: str) -> None:
        if self.exists(self.inside(path)):
            self.fs.delete_dir(path)

    def delete_file(self, path: str) -> None:
        self.fs.delete_file(self.inside(path))

    def inside(self, path: str) -> str:
        """`path`, checked at the moment of a deletion to lie strictly inside the lake.

        Names reach paths from the config database, which another tool may have written
        (a table named `../../x`), and a directory in the lake may be a symlink out of it:
        either way nothing outside the lake is ever deleted.
        """
        below = path[len(self.root) + 1 :].split("/")
        inside = path.startswith(self.root + "/") and not any(
            part in ("", ".", "..") for part in below
        )
        if inside and self.local:
            real, root = os.path.realpath(path), os.path.realpath(self.root)
            inside = real.startswith(root + os.sep)
        if not inside:
            raise TerminalError(
                f"refused to delete {self.display(path)!r}: it is not inside the lake "
                f"{self.display(self.root)!r}; a source or table name in the config database "
                "leads out of it (fix that pipeline_config row), or a link in the lake points "
                "elsewhere (remove the link)"
            )
        return path

    def open_input(self, path: str) -> Any:
        return self.fs.open_input_file(path)
