"""A real OCI registry for tests: Debian's `docker-registry` (distribution 2.x) on 127.0.0.1.

    with Registry() as registry:
        digest = registry.push("webapp", "1.0.0")    # an OCI image, pushed without Docker
        registry.image("webapp")                      # "127.0.0.1:PORT/webapp"

The registry runs with a config file of its own (the shipped one listens on all
interfaces), keeps its blobs in a temporary directory, and is stopped by its PID.
Images are pushed over the plain distribution API: one gzip'd tar layer, a config blob,
an OCI manifest — all built with the standard library.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from releasegate.processes import Timeout, free_port, http_ok, spawn, stop, wait_until

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def registry_binary() -> str:
    found = shutil.which("docker-registry")
    if found is None:
        raise RuntimeError("docker-registry not found: apt-get install -y docker-registry")
    return found


@dataclass
class Registry:
    """Start `docker-registry serve` on a free loopback port; use as a context manager."""

    port: int = field(default_factory=free_port)
    pid: int | None = None
    _tmp: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def image(self, repository: str) -> str:
        """The image reference (without tag) of `repository` in this registry."""
        return f"{self.host}/{repository}"

    def __enter__(self) -> Registry:
        self._tmp = Path(tempfile.mkdtemp(prefix="releasegate-registry-"))
        config = self._tmp / "config.yml"
        config.write_text(_CONFIG.format(root=self._tmp / "data", port=self.port))
        proc = spawn([registry_binary(), "serve", str(config)], log=self._tmp / "registry.log")
        self.pid = proc.pid
        try:
            wait_until(lambda: http_ok(f"{self.url}/v2/"), timeout=20, what="docker-registry /v2/")
        except Timeout:
            log = (self._tmp / "registry.log").read_text(errors="replace")[-2000:]
            self.__exit__(None, None, None)
            raise RuntimeError(f"docker-registry did not start:\n{log}") from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.pid is not None:
            stop(self.pid)
            self.pid = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def push(self, repository: str, tag: str, content: bytes | None = None) -> str:
        """Push a one-layer OCI image as `repository:tag`; return its manifest digest."""
        return push_image(self.url, repository, tag, content)


def push_image(base_url: str, repository: str, tag: str, content: bytes | None = None) -> str:
    """Push a tiny OCI image over the distribution API (no Docker engine); return its digest."""
    layer = _layer(content if content is not None else f"{repository}:{tag}\n".encode())
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/app"]},
            "rootfs": {"type": "layers", "diff_ids": [_digest(gzip.decompress(layer))]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _digest(layer),
                    "size": len(layer),
                }
            ],
        },
        sort_keys=True,
    ).encode()
    with httpx.Client(base_url=base_url, timeout=10) as http:
        for blob in (layer, config):
            start = http.post(f"/v2/{repository}/blobs/uploads/")
            start.raise_for_status()
            # The Location carries upload state in its query: append, do not replace.
            location = httpx.URL(start.headers["Location"])
            done = http.put(
                location.copy_merge_params({"digest": _digest(blob)}),
                content=blob,
                headers={"Content-Type": "application/octet-stream"},
            )
            done.raise_for_status()
        put = http.put(
            f"/v2/{repository}/manifests/{tag}",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        put.raise_for_status()
        return put.headers["Docker-Content-Digest"]


def _layer(content: bytes) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("app/VERSION")
        info.size = len(content)
        info.mtime = 0  # reproducible: same content, same digest
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main() -> None:
    """`python -m tests.support.registry BASE_URL REPOSITORY TAG`: push one image."""
    import sys

    base_url, repository, tag = sys.argv[1:4]
    print(push_image(base_url, repository, tag))


if __name__ == "__main__":
    main()
