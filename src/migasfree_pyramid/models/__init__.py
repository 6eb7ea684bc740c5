"""The core's SQLAlchemy models. Importing this package registers every core table."""

from .attributes import (
    ALL_SYSTEMS_VALUE,
    LANGUAGES,
    PROPERTY_KINDS,
    Attribute,
    AttributeSet,
    Property,
    Singularity,
)
from .builds import DeploymentBuild
from .computers import ClientUser, Computer, StatusLog
from .deployments import Deployment
from .domains import Domain, Scope
from .meta import Base
from .notifications import Notification
from .packages import Package, PackageSet
from .projects import Platform, Project, Store
from .schedules import Schedule, ScheduleDelay
from .users import ApiToken, Group, Permission, UserProfile

__all__ = [
    "ALL_SYSTEMS_VALUE",
    "LANGUAGES",
    "PROPERTY_KINDS",
    "ApiToken",
    "Attribute",
    "AttributeSet",
    "Base",
    "ClientUser",
    "Computer",
    "Deployment",
    "DeploymentBuild",
    "Domain",
    "Group",
    "Notification",
    "Package",
    "PackageSet",
    "Permission",
    "Platform",
    "Project",
    "Property",
    "Schedule",
    "ScheduleDelay",
    "Scope",
    "Singularity",
    "StatusLog",
    "Store",
    "UserProfile",
]
