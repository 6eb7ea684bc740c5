"""Build status in the API: the ``generating/`` list and ``internal-sources/{id}/build/``.

The deployments resource belongs to the core API module; the build endpoint is a Cornice
service of its own on the same path prefix, with a traversal factory that finds the deployment
through that resource (its base query and the caller's scoping), so that it answers 404 for a
deployment the caller may not see, exactly as the deployment's detail does.
"""

from __future__ import annotations

from cornice import Service
from sqlalchemy import or_, select

from ..api.resource import SCOPE_HOOK, RootChild
from ..models import Deployment, DeploymentBuild
from ..models.builds import BUILDING, IDLE, QUEUED

RESOURCE_PATH = "deployments/internal-sources"
MAX_ID = 2**31 - 1
FIELDS = (
    "state",
    "requested_at",
    "started_at",
    "finished_at",
    "last_success_at",
    "last_error",
    "build_count",
)


def generating_ids(request) -> list[int]:
    """Deployments being built or waiting for a build (``migasfree.generating_deployments``)."""
    return list(
        request.dbsession.scalars(
            select(DeploymentBuild.deployment_id)
            .where(
                or_(
                    DeploymentBuild.pending.is_(True),
                    DeploymentBuild.state.in_((QUEUED, BUILDING)),
                )
            )
            .order_by(DeploymentBuild.deployment_id)
        )
    )


def build_status(row: DeploymentBuild | None) -> dict:
    if row is None:
        return {**dict.fromkeys(FIELDS), "state": IDLE, "build_count": 0}
    return {field: getattr(row, field) for field in FIELDS}


def internal_sources(request):
    for resource in request.registry.get("migasfree.resources", []):
        if resource.path == RESOURCE_PATH:
            return resource
    raise LookupError(f"no admin resource at {RESOURCE_PATH!r}")


class DeploymentItem:
    def __init__(self, parent, resource, deployment: Deployment, key: str):
        self.__parent__ = parent
        self.__name__ = key
        self.resource = resource
        self.deployment = deployment

    @property
    def __acl__(self):
        return self.resource.item_acl(self.deployment, self.__parent__.request)


class InternalSourcesContext(RootChild):
    """Traversal over internal sources: missing, external or invisible ids are a 404."""

    __name__ = "internal-sources"

    def __getitem__(self, key: str) -> DeploymentItem:
        if not key.isdigit() or int(key) > MAX_ID:
            raise KeyError(key)
        resource = internal_sources(self.request)
        query = resource.query(self.request).where(Deployment.id == int(key))
        hook = self.request.registry.get(SCOPE_HOOK)
        query = hook(self.request, resource, query) if hook else resource.scope(self.request, query)
        deployment = self.request.dbsession.scalars(query).unique().first()
        if deployment is None:
            raise KeyError(key)
        return DeploymentItem(self, resource, deployment, key)


deployment_build = Service(
    name="deployments.internal-sources.build",
    path=r"/api/v1/token/deployments/internal-sources/{id:\d+}/build/",
    factory=InternalSourcesContext,
    traverse="/{id}",
    renderer="json",
)


@deployment_build.get(permission="core.view_deployment")
def get_deployment_build(request):
    """State of the deployment's repository build (not in the original)."""
    deployment = request.context.deployment
    return build_status(request.dbsession.get(DeploymentBuild, deployment.id))


def includeme(config) -> None:
    config.registry["migasfree.generating_deployments"] = generating_ids
    config.add_cornice_service(deployment_build)
