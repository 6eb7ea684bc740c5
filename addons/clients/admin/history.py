"""Package history: which package each computer installed and when (spec A.2.9, D.4)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, lazyload, selectinload

from migasfree_pyramid.api import Resource
from migasfree_pyramid.api.filters import Filter
from migasfree_pyramid.core_api.nested import project_info
from migasfree_pyramid.models import Computer, Package
from migasfree_pyramid.scoping import ByComputer

from ..models import PackageHistory
from .shapes import computer_filters, computer_info, through


class PackageHistoryResource(Resource):
    path = "packages-history"
    model = PackageHistory
    permission_model = "client.packagehistory"
    scoping = ByComputer(PackageHistory.computer_id)
    operations = frozenset({"list", "retrieve"})
    estimated_count = True
    filters = {
        "id": Filter(PackageHistory.id, "int", ("exact", "in")),
        **computer_filters(PackageHistory),
        "package__id": Filter(PackageHistory.package_id, "int", ("exact", "in")),
        "package__fullname": Filter(
            type="str",
            lookups=("exact", "icontains"),
            clause=through(PackageHistory.package_id, Package.fullname),
        ),
        "package__project__id": Filter(
            type="int",
            lookups=("exact", "in"),
            clause=through(PackageHistory.package_id, Package.project_id),
        ),
        "install_date": Filter(PackageHistory.install_date, "datetime", ("gte", "lt")),
        "uninstall_date": Filter(
            PackageHistory.uninstall_date, "datetime", ("gte", "lt", "isnull")
        ),
    }
    search_fields = (Computer.name, Package.fullname)
    ordering = {
        "id": PackageHistory.id,
        "computer": PackageHistory.computer_id,
        "package": PackageHistory.package_id,
        "install_date": PackageHistory.install_date,
        "uninstall_date": PackageHistory.uninstall_date,
        "computer__name": Computer.name,
        "package__fullname": Package.fullname,
    }
    default_ordering = ("computer__name", "package__fullname")

    def query(self, request):
        # Explicit joins, reused by the eager loads, so that the default order (computer name,
        # package name) is one of real columns: PostgreSQL walks the computers by name and
        # reads a page of history from the index, where ordering by correlated subqueries
        # sorted the whole table (20 million rows in the benchmark fleet) for every page.
        return (
            select(PackageHistory)
            .join(Computer, Computer.id == PackageHistory.computer_id)
            .join(Package, Package.id == PackageHistory.package_id)
            .options(
                # What the rows show of the computer and the package beyond their own columns
                # comes in statements of its own, so that the page's statement keeps three
                # tables that PostgreSQL can order freely.
                contains_eager(PackageHistory.computer).options(
                    selectinload(Computer.project), selectinload(Computer.sync_user)
                ),
                contains_eager(PackageHistory.package).options(
                    selectinload(Package.project), lazyload(Package.store)
                ),
            )
        )

    def serialize(self, obj, request):
        package = obj.package
        return {
            "id": obj.id,
            "install_date": obj.install_date,
            "uninstall_date": obj.uninstall_date,
            "computer": computer_info(obj.computer),
            "package": {
                "id": package.id,
                "fullname": package.fullname,
                "project": project_info(package.project),
            },
        }


def includeme(config) -> None:
    config.register_resource(PackageHistoryResource)
