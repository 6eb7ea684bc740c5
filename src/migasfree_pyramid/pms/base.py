"""What every package manager module provides: file kinds, architectures, the repository lines
clients receive (repositories.md 1.1, 1.4) and ``build()``, which writes a repository's metadata
and signatures (1.3). ``{protocol}``, ``{server}`` and ``{keys_path}`` stay literal in the
lines: the client fills them in.

How a repository is published (the orchestrator's side of the contract, ``repositories``): it
creates a stage directory beside the live one (``.<slug>.build-<id>``), puts the deployment's
packages in ``<stage>/PKGS/`` as relative symlinks to the store files, calls ``build(ctx)`` and,
when it returns, swaps the stage in. ``build()`` writes only inside the stage and the cache
directory, may read the live repository (to reuse its metadata), and raises ``BuildError`` on
failure, leaving the live repository untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..crypto.gpg import Signer

COMPONENT = "PKGS"
REPOS_PATH = "repos"
EXTERNAL_PATH = "external"


@dataclass(frozen=True)
class DeploymentInfo:
    """The deployment fields a template needs (no ORM object crosses into this package)."""

    slug: str
    project_slug: str
    source: str  # "I" internal, "E" external
    base_url: str | None = None
    options: str | None = None
    suite: str | None = None
    components: str | None = None


class BuildError(RuntimeError):
    """A repository could not be built; the message says why (shown to administrators)."""


@dataclass(frozen=True)
class BuildContext:
    """Everything ``PackageManager.build`` needs; no ORM object crosses into this package."""

    stage_dir: str  # absolute: the new repository directory being built
    live_name: str  # the deployment slug: the stage's name once swapped in
    repos_root: str  # absolute: <public>/<project slug>/repos
    architecture: str  # the project's architecture (apt accepts several, space separated)
    packages: tuple[tuple[str, str], ...]  # (fullname, absolute store path), unique fullnames
    signer: Signer
    cache_dir: str  # absolute: per-project, kept between builds (incremental rebuilds)

    @property
    def pkgs_dir(self) -> str:
        return os.path.join(self.stage_dir, COMPONENT)


class PackageManager:
    name: str = ""
    module: str = ""
    extensions: tuple[str, ...] = ()
    mimetypes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    # Where internal repositories live under <public>/<project>/.
    relative_path: str = REPOS_PATH

    def internal_url(self, public_url: str, dep: DeploymentInfo) -> str:
        return f"{{protocol}}://{{server}}{public_url}{dep.project_slug}/{REPOS_PATH}"

    def external_url(self, dep: DeploymentInfo) -> str:
        return f"{{protocol}}://{{server}}/src/{dep.project_slug}/{EXTERNAL_PATH}/{dep.slug}"

    def source_template(self, dep: DeploymentInfo, public_url: str = "/pub/") -> str:
        if dep.source == "E":
            return self.external_template(dep)
        return self.internal_template(dep, public_url)

    def internal_template(self, dep: DeploymentInfo, public_url: str) -> str:
        raise NotImplementedError

    def external_template(self, dep: DeploymentInfo) -> str:
        raise NotImplementedError

    def live_path(self, public_dir: str, project_slug: str, slug: str) -> str:
        """The directory clients read: ``<public>/<project>/<relative_path>/<slug>``."""
        return os.path.join(public_dir, project_slug, self.relative_path, slug)

    def build(self, ctx: BuildContext) -> None:
        """Write the repository metadata and its signatures inside ``ctx.stage_dir``."""
        raise BuildError(f"{self.name} repositories cannot be built")

    def describe(self) -> dict:
        """The ``/api/v1/public/pms/`` entry."""
        return {
            "module": self.module,
            "mimetype": list(self.mimetypes),
            "extensions": list(self.extensions),
            "architectures": list(self.architectures),
        }
