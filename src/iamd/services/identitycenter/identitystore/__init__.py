"""IAM Identity Center's identity store: the ``identitystore`` API, SCIM 2.0 provisioning, SAML
federation from an external IdP, and the sign-in checks the access portal uses
(:mod:`.signin`). The data lives in :mod:`iamd.store.identity_store` and
:mod:`iamd.store.identity_credentials`."""

from iamd.services.identitycenter.identitystore import groups, stores, users  # noqa: F401  (register)
