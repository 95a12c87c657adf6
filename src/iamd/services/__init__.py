"""AWS services: one package per service; an operation is a plain function registered by name."""
