"""IAM Access Analyzer (botocore's ``accessanalyzer`` model, REST-JSON). Importing this package
registers every operation of its modules."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
