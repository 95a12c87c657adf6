"""The account: its alias (Create/Delete/ListAccountAliases), GetAccountSummary, the STS global
endpoint token version (SetSecurityTokenServicePreferences) and account properties
(Get/PutAccountProperties). Settings live in ``account_settings``."""

from __future__ import annotations

from typing import Any, Final

from iamd.policy import PolicyKind
from iamd.services.framework import OperationContext, operation
from iamd.services.iam.access_keys import MAX_KEYS_PER_USER
from iamd.services.iam.credentials import MAX_CERTIFICATES_PER_USER
from iamd.services.iam.groups import MAX_GROUPS, MAX_GROUPS_PER_USER
from iamd.services.iam.users import MAX_USERS
from iamd.wire import EntityAlreadyExists, InvalidInput, NoSuchEntity

# AWS's default quotas, as GetAccountSummary reports them.
QUOTAS: Final[dict[str, int]] = {
    "UsersQuota": MAX_USERS,
    "GroupsQuota": MAX_GROUPS,
    "RolesQuota": 1000,
    "PoliciesQuota": 1500,
    "InstanceProfilesQuota": 1000,
    "ServerCertificatesQuota": 20,
    "GroupsPerUserQuota": MAX_GROUPS_PER_USER,
    "AccessKeysPerUserQuota": MAX_KEYS_PER_USER,
    "SigningCertificatesPerUserQuota": MAX_CERTIFICATES_PER_USER,
    "AttachedPoliciesPerUserQuota": 10,
    "AttachedPoliciesPerGroupQuota": 10,
    "AttachedPoliciesPerRoleQuota": 10,
    "PolicyVersionsInUseQuota": 10000,
    "VersionsPerPolicyQuota": 5,
    "PolicySizeQuota": PolicyKind.MANAGED.max_size,
    "UserPolicySizeQuota": PolicyKind.INLINE_USER.max_size,
    "GroupPolicySizeQuota": PolicyKind.INLINE_GROUP.max_size,
    "RolePolicySizeQuota": PolicyKind.INLINE_ROLE.max_size,
    "AssumeRolePolicySizeQuota": PolicyKind.TRUST.max_size,
}
DEFAULT_GLOBAL_ENDPOINT_TOKEN_VERSION: Final = 1
TOKEN_VERSION_SETTING: Final = "sts:global-endpoint-token-version"
TOKEN_VERSIONS: Final = {"v1Token": 1, "v2Token": 2}
PROPERTY_PREFIX: Final = "property:"


@operation("iam", "CreateAccountAlias")
def create_account_alias(ctx: OperationContext, params: dict[str, Any]) -> None:
    ctx.authorize("iam:CreateAccountAlias", "*")
    alias = params["AccountAlias"]
    if alias.isdigit() and len(alias) == 12:
        raise InvalidInput("An account alias cannot be a 12-digit number: it would look like an account ID.")
    account = ctx.uow.accounts.get(ctx.account_id)
    if account.alias == alias:
        return
    other = ctx.uow.accounts.find_by_alias(alias)
    if other is not None:
        raise EntityAlreadyExists(f"The account alias {alias} already exists.")
    # An account has at most one alias: a new one replaces the old, as in AWS.
    ctx.uow.accounts.set_alias(ctx.account_id, alias)


@operation("iam", "DeleteAccountAlias")
def delete_account_alias(ctx: OperationContext, params: dict[str, Any]) -> None:
    ctx.authorize("iam:DeleteAccountAlias", "*")
    alias = params["AccountAlias"]
    if ctx.uow.accounts.get(ctx.account_id).alias != alias:
        raise NoSuchEntity(f"The account alias {alias} cannot be found.")
    ctx.uow.accounts.set_alias(ctx.account_id, None)


@operation("iam", "ListAccountAliases", readonly=True)
def list_account_aliases(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:ListAccountAliases", "*")
    alias = ctx.uow.accounts.get(ctx.account_id).alias
    return {"AccountAliases": [alias] if alias else [], "IsTruncated": False}


@operation("iam", "GetAccountSummary", readonly=True)
def get_account_summary(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:GetAccountSummary", "*")
    s = ctx.uow.accounts.summary(ctx.account_id)
    summary: dict[str, int] = {
        "Users": s.users,
        "Groups": s.groups,
        "Roles": s.roles,
        "Policies": s.policies,
        "PolicyVersionsInUse": s.policy_versions_in_use,
        "InstanceProfiles": s.instance_profiles,
        "ServerCertificates": s.server_certificates,
        "Providers": s.providers,
        "MFADevices": s.mfa_devices,
        "MFADevicesInUse": s.mfa_devices_in_use,
        "AccountMFAEnabled": int(s.account_mfa_enabled),
        "AccountAccessKeysPresent": int(s.account_access_keys_present),
        "AccountSigningCertificatesPresent": int(s.account_signing_certificates_present),
        "AccountPasswordPresent": int(s.account_password_present),
        "GlobalEndpointTokenVersion": global_endpoint_token_version(ctx),
        **QUOTAS,
    }
    return {"SummaryMap": summary}


def global_endpoint_token_version(ctx: OperationContext) -> int:
    stored = ctx.uow.account_settings.get(ctx.account_id, TOKEN_VERSION_SETTING)
    return TOKEN_VERSIONS.get(stored or "", DEFAULT_GLOBAL_ENDPOINT_TOKEN_VERSION)


@operation("iam", "SetSecurityTokenServicePreferences")
def set_security_token_service_preferences(ctx: OperationContext, params: dict[str, Any]) -> None:
    ctx.authorize("iam:SetSecurityTokenServicePreferences", "*")
    version = params["GlobalEndpointTokenVersion"]
    if version not in TOKEN_VERSIONS:  # the model's enum checks it too; a direct caller may not
        raise InvalidInput(
            f"GlobalEndpointTokenVersion must be one of {', '.join(TOKEN_VERSIONS)}: {version}"
        )
    ctx.uow.account_settings.put(ctx.account_id, TOKEN_VERSION_SETTING, version, now=ctx.now)


# -- account properties ------------------------------------------------------------------------------


def property_namespaces(keys: list[str]) -> list[str]:
    """The namespaces that ``Namespace/PropertyName`` keys name, in order, once each."""
    return list(dict.fromkeys(key.partition("/")[0] for key in keys))


def check_property_keys(keys: list[str]) -> str:
    """The one namespace of the keys, or InvalidInput naming what is wrong (AWS's rules: exactly
    one ``/`` between a namespace and a property name, one namespace per request)."""
    if not keys:
        raise InvalidInput("Properties must name at least one property, as Namespace/PropertyName.")
    for key in keys:
        namespace, slash, name = key.partition("/")
        if not slash or not namespace or not name or "/" in name:
            raise InvalidInput(
                f"The property key {key} is not valid: a key is Namespace/PropertyName, with exactly one "
                "'/' and neither starting nor ending with '/'."
            )
    namespaces = property_namespaces(keys)
    if len(namespaces) > 1:
        raise InvalidInput(
            "All properties in one request must belong to the same namespace; this one names "
            f"{', '.join(namespaces)}."
        )
    return namespaces[0]


@operation("iam", "GetAccountProperties", readonly=True)
def get_account_properties(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("iam:GetAccountProperties", "*")
    stored = ctx.uow.account_settings.list(ctx.account_id, PROPERTY_PREFIX)
    return {"Properties": {name.removeprefix(PROPERTY_PREFIX): value for name, value in stored.items()}}


@operation("iam", "PutAccountProperties")
def put_account_properties(ctx: OperationContext, params: dict[str, Any]) -> None:
    properties = {str(k): str(v) for k, v in (params.get("Properties") or {}).items()}
    keys = list(properties)
    ctx.authorize(
        "iam:PutAccountProperties", "*", {"iam:AccountPropertyNamespaces": property_namespaces(keys)}
    )
    check_property_keys(keys)
    ctx.uow.account_settings.put_many(
        ctx.account_id, {PROPERTY_PREFIX + key: value for key, value in properties.items()}, now=ctx.now
    )
