"""Administrator accounts: user profiles, groups and permissions (spec D.3, A.1.15, C.1-C.3)."""

from __future__ import annotations

import re

from pyramid.authorization import ALL_PERMISSIONS, Allow, Deny, Everyone
from sqlalchemy.orm import selectinload

from ..api import Resource, action
from ..api.errors import APIError, error_entry, validation_error
from ..api.filters import Filter, related
from ..api.related import ensure_unique, invalid_pk, load_rows
from ..api.resource import flush_or_conflict
from ..api.schemas import Boolean, IdList, Integer, Schema, Text, json_body, partial, validate
from ..models import Domain, Group, Permission, Scope, UserProfile
from ..models.users import user_domains, user_groups
from ..scoping import Custom, Unscoped
from ..security import SUPERUSER
from ..security.passwords import hash_password
from ..security.permissions import DOMAIN_ADMIN_GROUP
from ..security.tokens import create_api_token, revoke_api_tokens

PASSWORD_MIN = 8
PASSWORD_MAX = 128
# Django's UnicodeUsernameValidator: existing accounts and clients expect the same alphabet.
USERNAME_RE = re.compile(r"^[\w.@+-]+\Z")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Not a registered codename: only the item ACL below grants it, to the account's own user and
# to holders of core.change_userprofile (token and password of one's own account).
SELF_OR_CHANGE = "userprofile.self_or_change"
CHANGE = "core.change_userprofile"
DELETE = "core.delete_userprofile"


def forbidden(description: str, name: str = "") -> APIError:
    return APIError(403, [error_entry(description, name, "body")])


def permission_info(permission: Permission) -> dict:
    return {"id": permission.id, "name": permission.name, "codename": permission.codename}


def permissions_info(permissions) -> list[dict]:
    ordered = sorted(permissions, key=lambda p: (p.content_type, p.codename))
    return [permission_info(p) for p in ordered]


def check_password(password, field: str = "password") -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise validation_error(
            {field: f"Ensure this field has at least {PASSWORD_MIN} characters."}
        )
    if len(password) > PASSWORD_MAX:
        raise validation_error(
            {field: f"Ensure this field has no more than {PASSWORD_MAX} characters."}
        )
    return password


# -- user profiles -----------------------------------------------------------------------------


class UserProfileSchema(Schema):
    username = Text(150)
    email = Text(254, required=False)
    first_name = Text(150, required=False)
    last_name = Text(150, required=False)
    domains = IdList()
    domain_preference = Integer(required=False, nullable=True)
    scope_preference = Integer(required=False, nullable=True)
    groups = IdList()
    user_permissions = IdList()
    is_superuser = Boolean(default=False)
    is_staff = Boolean(default=False)
    is_active = Boolean(default=True)


class PreferencesSchema(Schema):
    domain_preference = Integer(required=False, nullable=True)
    scope_preference = Integer(required=False, nullable=True)


class ChangePasswordSchema(Schema):
    password = Text(PASSWORD_MAX)
    password2 = Text(PASSWORD_MAX)


def _bool_filter(column):
    return Filter(column, "bool")


class UserProfileResource(Resource):
    path = "user-profiles"
    model = UserProfile
    permission_model = "core.userprofile"
    scoping = Custom(
        lambda request, query, vis: query.where(UserProfile.id == vis.user_id),
        "a restricted user sees only their own account",
    )
    schema = UserProfileSchema
    filters = {
        "id": Filter(UserProfile.id, "int", ("exact", "in")),
        "username": Filter(UserProfile.username, "str", ("exact", "icontains")),
        "first_name": Filter(UserProfile.first_name, "str", ("exact", "icontains")),
        "last_name": Filter(UserProfile.last_name, "str", ("exact", "icontains")),
        "domains__id": Filter(
            type="int",
            lookups=("exact", "in"),
            clause=related(
                user_domains.c.userprofile_id, user_domains.c.domain_id, owner_id=UserProfile.id
            ),
        ),
        "is_active": _bool_filter(UserProfile.is_active),
        "is_staff": _bool_filter(UserProfile.is_staff),
        "is_superuser": _bool_filter(UserProfile.is_superuser),
    }
    search_fields = (UserProfile.username, UserProfile.first_name, UserProfile.last_name)
    ordering = {
        name: getattr(UserProfile, name)
        for name in (
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "is_superuser",
            "is_staff",
            "is_active",
            "last_login",
            "date_joined",
        )
    } | {
        "domain_preference": UserProfile.domain_preference_id,
        "scope_preference": UserProfile.scope_preference_id,
    }
    default_ordering = ("username",)
    detail_options = (
        selectinload(UserProfile.domains),
        selectinload(UserProfile.groups),
        selectinload(UserProfile.user_permissions),
    )

    # -- reading ------------------------------------------------------------------------------
    def serialize_list(self, obj, request):
        return {
            "pk": obj.id,
            "id": obj.id,
            "username": obj.username,
            "email": obj.email,
            "first_name": obj.first_name,
            "last_name": obj.last_name,
            "domain_preference": obj.domain_preference_id,
            "scope_preference": obj.scope_preference_id,
            "is_superuser": obj.is_superuser,
            "is_staff": obj.is_staff,
            "is_active": obj.is_active,
            "last_login": obj.last_login,
            "date_joined": obj.date_joined,
        }

    def serialize(self, obj, request):
        return {
            **self.serialize_list(obj, request),
            "domains": sorted(domain.id for domain in obj.domains),
            "groups": [
                {"id": g.id, "name": g.name} for g in sorted(obj.groups, key=lambda g: g.name)
            ],
            "user_permissions": permissions_info(obj.user_permissions),
            # API tokens are stored hashed (security.tokens), so the key cannot be shown again;
            # it is only returned once, by update-token/ or /token-auth/.
            "token": None,
        }

    # -- permissions --------------------------------------------------------------------------
    def item_acl(self, obj, request):
        """Who may renew the token or change the password of this account.

        An ACL rather than a test inside the actions: the one forbidden view then answers 401
        to anonymous callers and 403 to others, as everywhere else. The grant is a permission
        of its own (``SELF_OR_CHANGE``), not core.change_userprofile for ``user:<id>``, because
        the latter would also open PUT/PATCH of one's own profile (groups, permissions).
        """
        acl = [(Allow, SUPERUSER, ALL_PERMISSIONS)]
        if obj.is_superuser:
            # Holding core.change_userprofile must not let anyone take over a superuser account
            # (new password, new token, demotion): superuser accounts are managed by superusers.
            acl += [(Deny, Everyone, p) for p in (CHANGE, DELETE, SELF_OR_CHANGE)]
        acl += [
            (Allow, f"user:{obj.id}", SELF_OR_CHANGE),
            (Allow, f"perm:{CHANGE}", SELF_OR_CHANGE),
        ]
        return acl

    # -- writing ------------------------------------------------------------------------------
    def write_schema(self, request, obj=None):
        schema = self.schema()
        if obj is None:
            # Write-only, create only (fix of F.22: the original had no password field); later
            # changes go through change-password/.
            schema.add(Text(PASSWORD_MAX, required=False, nullable=True, name="password"))
        return schema

    def apply(self, request, obj, data, creating):
        # Everything is checked before the row changes: assigning ``domains`` links the account
        # to loaded domains, and a refused request must not leave it half-linked.
        values = self._validated(request, obj, data, creating)
        with request.dbsession.no_autoflush:
            for key, value in values.items():
                setattr(obj, key, value)

    def _validated(self, request, obj, data, creating) -> dict:
        plain = ("email", "first_name", "last_name", "is_staff", "is_active")
        values = {field: data[field] for field in plain if field in data}
        if "username" in data:
            values["username"] = self._username(request, obj, data["username"])
        if data.get("email") and not EMAIL_RE.match(data["email"]):
            raise validation_error({"email": "Enter a valid email address."})
        superuser = data.get("is_superuser", bool(obj.is_superuser))
        if superuser != bool(obj.is_superuser) and not request.identity.user.is_superuser:
            raise forbidden("Only a superuser can grant or revoke superuser status.")
        values["is_superuser"] = superuser
        many = {"groups": Group, "user_permissions": Permission, "domains": Domain}
        for field, model in many.items():
            if field in data:
                values[field] = load_rows(request, model, data[field], field)
        values.update(self._preferences(request, obj, data, values))
        if creating:
            password = data.get("password")
            # Without a password the account cannot log in until change-password/ (as the
            # original, but with an unusable empty hash instead of the hash of "").
            values["password"] = hash_password(check_password(password)) if password else ""
        return values

    def _username(self, request, obj, username: str) -> str:
        if not USERNAME_RE.match(username):
            raise validation_error(
                {
                    "username": "Enter a valid username. This value may contain only "
                    "letters, numbers, and @/./+/-/_ characters."
                }
            )
        ensure_unique(
            request,
            UserProfile,
            "username",
            {"username": username},
            obj.id,
            "A user with that username already exists.",
        )
        return username

    def _preferences(self, request, obj, data, values) -> dict:
        session = request.dbsession
        result = {}
        preference = obj.domain_preference
        if "domain_preference" in data:
            pk = data["domain_preference"]
            preference = None if pk is None else session.get(Domain, pk)
            if pk is not None and preference is None:
                raise invalid_pk("domain_preference", pk)
            result["domain_preference"] = preference
        # Fix of spec C.3: the REST API of the original accepted any domain; its admin form
        # already required the preference to be one of the user's domains.
        domains = values.get("domains", obj.domains)
        touched = {"domain_preference", "domains", "is_superuser"} & set(data)
        if touched and preference and not values["is_superuser"] and preference not in domains:
            raise validation_error(
                {"domain_preference": "Domain preference not in selected Domains"}
            )
        if "scope_preference" in data:
            pk = data["scope_preference"]
            # Looked up directly: the scopes resource only shows the caller their own scopes.
            scope = None if pk is None else session.get(Scope, pk)
            if pk is not None and scope is None:
                raise invalid_pk("scope_preference", pk)
            if scope is not None and (obj.id is None or scope.user_id != obj.id):
                raise validation_error({"scope_preference": "The scope must belong to this user."})
            result["scope_preference"] = scope
        return result

    # -- actions ------------------------------------------------------------------------------
    @action("domain-admins", detail=False, methods=("GET",), permission="view")
    def domain_admins(self, request, context):
        """Members of the "Domain Admin" group, as a plain (unpaginated) list."""
        query = (
            context.scoped_query()
            .where(UserProfile.groups.any(Group.name == DOMAIN_ADMIN_GROUP))
            .order_by(UserProfile.username, UserProfile.id)
        )
        return self.load_list(request.dbsession.scalars(query).unique().all(), request)

    @action("update-token", detail=True, methods=("POST",), permission=SELF_OR_CHANGE)
    def update_token(self, request, context):
        """Revoke every API token of the user and issue a new one (shown only here)."""
        session = request.dbsession
        revoke_api_tokens(session, context.obj)
        key = create_api_token(session, context.obj)
        return {"detail": "Token updated!", "info": key}

    @action("preferences", detail=True, methods=("PATCH",), permission=SELF_OR_CHANGE)
    def preferences(self, request, context):
        """A user chooses their own domain and scope preference (a delegated administrator only
        among the domains they administer and their own scopes); the original offered this only
        to holders of core.change_userprofile, i.e. not to domain admins themselves."""
        data = validate(partial(PreferencesSchema(), json_body(request).keys()), json_body(request))
        obj = context.obj
        values = {"is_superuser": obj.is_superuser}
        for key, value in self._preferences(request, obj, data, values).items():
            setattr(obj, key, value)
        flush_or_conflict(request)
        return self.serialize(obj, request)

    @action("change-password", detail=True, methods=("PUT",), permission=SELF_OR_CHANGE)
    def change_password(self, request, context):
        """Set a new password: ``{password, password2}``, equal and at least 8 characters."""
        data = validate(ChangePasswordSchema(), json_body(request))
        check_password(data["password"])
        if data["password"] != data["password2"]:
            raise validation_error({"password2": "The two password fields didn't match."})
        context.obj.password = hash_password(data["password"])
        return {"detail": "Password changed!"}


# -- groups and permissions --------------------------------------------------------------------


class GroupSchema(Schema):
    name = Text(150)
    permissions = IdList()


class GroupResource(Resource):
    path = "accounts/groups"
    model = Group
    permission_model = "auth.group"
    scoping = Unscoped("groups are the same for everyone (and need auth permissions)")
    schema = GroupSchema
    filters = {
        "id": Filter(Group.id, "int", ("exact", "in")),
        "name": Filter(Group.name, "str", ("exact", "icontains")),
        "user__id": Filter(
            type="int",
            lookups=("exact", "in"),
            clause=related(user_groups.c.group_id, user_groups.c.userprofile_id, owner_id=Group.id),
        ),
    }
    search_fields = (Group.name,)
    ordering = {"id": Group.id, "name": Group.name}
    default_ordering = ("name",)
    list_options = (selectinload(Group.permissions),)
    detail_options = list_options

    def serialize(self, obj, request):
        return {"id": obj.id, "name": obj.name, "permissions": permissions_info(obj.permissions)}

    def apply(self, request, obj, data, creating):
        if "name" in data:
            ensure_unique(
                request,
                Group,
                "name",
                {"name": data["name"]},
                obj.id,
                "group with this name already exists.",
            )
            obj.name = data["name"]
        if "permissions" in data:
            obj.permissions = load_rows(request, Permission, data["permissions"], "permissions")


class PermissionResource(Resource):
    """The permission table is kept in sync from the code's enums: read-only here."""

    path = "accounts/permissions"
    model = Permission
    permission_model = "auth.permission"
    scoping = Unscoped("the permission catalogue is the same for everyone")
    operations = frozenset({"list", "retrieve"})
    exportable = False
    filters = {
        "id": Filter(Permission.id, "int", ("exact", "in")),
        "name": Filter(Permission.name, "str", ("exact", "icontains")),
    }
    search_fields = (Permission.name,)
    ordering = {
        "id": Permission.id,
        "name": Permission.name,
        "content_type": Permission.content_type,
        "codename": Permission.codename,
    }
    default_ordering = ("content_type", "codename")

    def serialize(self, obj, request):
        # content_type is "app.model" (there is no content-type table; Django gave its id).
        return {
            "id": obj.id,
            "name": obj.name,
            "content_type": obj.content_type,
            "codename": obj.codename,
        }


def includeme(config) -> None:
    for resource in (UserProfileResource, GroupResource, PermissionResource):
        config.register_resource(resource)
