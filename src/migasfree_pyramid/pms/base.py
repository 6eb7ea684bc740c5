"""What every package manager module provides. The repositories issue adds building and signing;
here: file kinds, architectures and the repository lines clients receive (repositories.md 1.1,
1.4). ``{protocol}``, ``{server}`` and ``{keys_path}`` stay literal: the client fills them in."""

from __future__ import annotations

from dataclasses import dataclass

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

    def describe(self) -> dict:
        """The ``/api/v1/public/pms/`` entry."""
        return {
            "module": self.module,
            "mimetype": list(self.mimetypes),
            "extensions": list(self.extensions),
            "architectures": list(self.architectures),
        }
