"""Tag → digest over the OCI distribution API (HEAD of the manifest), with Basic/Bearer auth."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

import httpx

from releasegate.targets.base import TargetError
from releasegate.vocabulary import VERSION_RULE

# Index/list first: a multi-arch tag's digest is its index, which every node can pull.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
# Names of Docker Hub in image references, and the host that serves its registry API
# (docker/distribution reference: "docker.io" is normalised; the API is registry-1).
DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_API = "registry-1.docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class ImageRepository:
    """`registry.example.com:5000/team/app` split into registry host and repository path."""

    registry: str
    repository: str

    @classmethod
    def parse(cls, image: str) -> ImageRepository:
        first, _, rest = image.partition("/")
        # Docker's rule: the first component is a host if it has a dot, a port, or is localhost.
        if rest and ("." in first or ":" in first or first == "localhost"):
            if first not in DOCKER_HUB:
                return cls(first, rest)
            image = rest  # docker.io/... names Docker Hub, whose API is elsewhere
        return cls(DOCKER_HUB_API, image if "/" in image else f"library/{image}")


def valid_tag(tag: str) -> bool:
    # A version is defined as a valid tag (vocabulary.Version): one rule, matched whole
    # (`^...$` with `match` also took a trailing newline).
    return VERSION_RULE.regex.fullmatch(tag) is not None


def resolve_digest(
    image: str,
    tag: str,
    *,
    insecure: bool = False,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
) -> str:
    """The digest `sha256:...` that `image:tag` points to; TargetError if it does not exist."""
    if not valid_tag(tag):
        raise TargetError(f"{tag!r} is not a valid image tag")
    repo = ImageRepository.parse(image)
    scheme = "http" if insecure else "https"
    url = f"{scheme}://{repo.registry}/v2/{repo.repository}/manifests/{tag}"
    headers = {"Accept": MANIFEST_TYPES}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as http:
            response = http.head(url, headers=headers)
            if response.status_code == 401:
                headers["Authorization"] = _authorize(http, response, username, password)
                response = http.head(url, headers=headers)
            if response.status_code == 200 and not _DIGEST.match(
                response.headers.get("Docker-Content-Digest", "")
            ):
                # Some registries omit the header on HEAD: hash the manifest bytes ourselves.
                body = http.get(url, headers=headers)
                body.raise_for_status()
                return "sha256:" + hashlib.sha256(body.content).hexdigest()
    except httpx.HTTPError as e:
        raise TargetError(f"cannot reach registry {repo.registry}: {e}") from e
    if response.status_code == 404:
        raise TargetError(f"image {image}:{tag} does not exist (registry answered 404 for the tag)")
    if response.status_code in (401, 403):
        raise TargetError(
            f"registry {repo.registry} refused access to {repo.repository} "
            f"(HTTP {response.status_code}); check the registry credentials"
        )
    if response.status_code != 200:
        raise TargetError(
            f"registry {repo.registry} answered HTTP {response.status_code} for {image}:{tag}"
        )
    return response.headers["Docker-Content-Digest"]


def _authorize(
    http: httpx.Client, challenge: httpx.Response, username: str | None, password: str | None
) -> str:
    """The Authorization header a 401's WWW-Authenticate challenge asks for."""
    header = challenge.headers.get("WWW-Authenticate", "")
    scheme, _, params = header.partition(" ")
    if scheme.lower() == "basic":
        if username is None or password is None:
            raise TargetError("registry requires credentials (Basic) and none are configured")
        return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    if scheme.lower() != "bearer":
        raise TargetError(f"registry asks for unsupported authentication {header!r}")
    fields = dict(_CHALLENGE_PARAM.findall(params))
    if "realm" not in fields:
        raise TargetError(f"registry Bearer challenge without realm: {header!r}")
    query = {k: v for k, v in fields.items() if k in ("service", "scope")}
    auth = httpx.BasicAuth(username, password) if username and password else None
    response = http.get(fields["realm"], params=query, auth=auth)
    if response.status_code != 200:
        raise TargetError(f"registry token service answered HTTP {response.status_code}")
    body = response.json()
    token = body.get("token") or body.get("access_token")
    if not token:
        raise TargetError("registry token service returned no token")
    return f"Bearer {token}"
