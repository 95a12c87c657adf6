"""IAM Roles Anywhere: trust anchors, profiles and their tags (botocore's ``rolesanywhere``
model, REST-JSON), and CreateSession, the X.509-signed call that trades a certificate for role
session credentials (``sessions``; routed by the pipeline, it is not in botocore's model).
Importing this package registers every operation."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
