"""IAM Identity Center administration (``sso-admin``, JSON 1.1, ``SWBExternalService``): one module
per area. Importing the package registers every operation of botocore's model.

Applications and trusted token issuers (``applications``): iamd's access portal signs people in
to AWS accounts only, so none can be created; their listings are empty and an operation naming one
finds none.
"""

from iamd.services.identitycenter import (  # noqa: F401  (each registers its operations)
    applications,
    assignments,
    instances,
    permission_sets,
)
