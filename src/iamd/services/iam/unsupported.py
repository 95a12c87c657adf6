"""The IAM operations of botocore's model that iamd does not offer, each answered with
UnsupportedOperation saying why (instead of the pipeline's generic answer)."""

from __future__ import annotations

from typing import Final

from iamd.services.framework import unsupported

_DELEGATION: Final = (
    "delegation requests (temporary access that an AWS partner asks an account for, approved in the "
    "AWS console) need AWS's partner and console workflow, which iamd does not have"
)
_ROLE_TEMPLATES: Final = "role templates are published by AWS for its partners, and iamd has none"
# The workload identity family (botocore 1.44.18): providers that mint SPIFFE identities for
# workloads (each created with an ES384 and an RS256 JWT signing key), templates that map
# attestations to them, and X.509 outbound signers backed by AWS Private CA. AWS marks it a preview
# release, subject to change (IAM User Guide, "Create a workload identity provider",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/workload-identity-create-provider.html). CRUD
# alone would give providers that can issue nothing, so the family stays out until iamd implements
# the issuing side (JWT-SVIDs, X509-SVIDs, trust bundles) with it.
_WORKLOAD_IDENTITY: Final = (
    "workload identity providers and templates (an AWS preview: SPIFFE identities that IAM mints for "
    "workloads, with JWT and AWS Private CA X.509 signers) are not implemented in iamd yet"
)
_ORGANIZATION_LEVEL: Final = (
    "organization-level resources are the organization-owned workload identity providers and "
    "templates, which iamd does not implement yet"
)

REASONS: Final = {
    "CreateDelegationRequest": _DELEGATION,
    "GetDelegationRequest": _DELEGATION,
    "ListDelegationRequests": _DELEGATION,
    "AcceptDelegationRequest": _DELEGATION,
    "RejectDelegationRequest": _DELEGATION,
    "AssociateDelegationRequest": _DELEGATION,
    "UpdateDelegationRequest": _DELEGATION,
    "SendDelegationToken": _DELEGATION,
    "AcquireRole": _ROLE_TEMPLATES,
    "GetRoleTemplateVersion": _ROLE_TEMPLATES,
    "GetHumanReadableSummary": "AWS writes these summaries of delegation requests with a large language "
    "model; iamd has neither delegation requests nor such a model",
    "UpdateOpenIDConnectProvider": "it configures trusted identity propagation (a context provider, an "
    "IAM Identity Center instance) on an OIDC provider, and iamd has no IAM Identity Center; thumbprints "
    "are changed with UpdateOpenIDConnectProviderThumbprint",
    "EnableOrganizationLevelResources": _ORGANIZATION_LEVEL,
    "DisableOrganizationLevelResources": _ORGANIZATION_LEVEL,
    **{
        name: _WORKLOAD_IDENTITY
        for name in (
            "CreateWorkloadIdentityProvider",
            "GetWorkloadIdentityProvider",
            "ListWorkloadIdentityProviders",
            "DeleteWorkloadIdentityProvider",
            "GetWorkloadIdentityProviderDeletionStatus",
            "TagWorkloadIdentityProvider",
            "UntagWorkloadIdentityProvider",
            "ListWorkloadIdentityProviderTags",
            "PutWorkloadIdentityProviderResourcePolicy",
            "GetWorkloadIdentityProviderResourcePolicy",
            "DeleteWorkloadIdentityProviderResourcePolicy",
            "CreateWorkloadIdentityProviderOutboundSigner",
            "UpdateWorkloadIdentityProviderOutboundSigner",
            "EnableWorkloadIdentityProviderOutboundSigner",
            "DisableWorkloadIdentityProviderOutboundSigner",
            "DeleteWorkloadIdentityProviderOutboundSigner",
            "ListWorkloadIdentityProviderOutboundSigners",
            "CreateWorkloadIdentityTemplate",
            "GetWorkloadIdentityTemplate",
            "ListWorkloadIdentityTemplates",
            "DeleteWorkloadIdentityTemplate",
            "TagWorkloadIdentityTemplate",
            "UntagWorkloadIdentityTemplate",
            "ListWorkloadIdentityTemplateTags",
            "PutWorkloadIdentityTemplateAttestationPolicy",
            "GetWorkloadIdentityTemplateAttestationPolicy",
            "DeleteWorkloadIdentityTemplateAttestationPolicy",
        )
    },
}


for _name, _reason in REASONS.items():
    unsupported("iam", _name, _reason)
