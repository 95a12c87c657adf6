"""IAM Access Analyzer (botocore's ``accessanalyzer`` model, REST-JSON). One module per group of
operations; importing this package registers every operation."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
