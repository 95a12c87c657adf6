"""AWS STS: importing this package registers every STS operation (each module of this package
registers its own with ``@operation``). Sessions are stateless: see ``tokens``."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
