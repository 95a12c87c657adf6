"""botocore's service models, and which operation an HTTP request is for.

:class:`ServiceCatalog` loads the models of the services a server answers (cached; any service
botocore ships works) and maps a request to an :class:`OperationRef`:

- query protocol (IAM, STS): ``Action=`` in the form body or query string; the service is the
  one the SigV4 credential scope names, else the only served service with that action, else the
  one whose endpoint prefix starts the ``Host`` header;
- JSON protocol (Organizations, CloudTrail): ``X-Amz-Target: <targetPrefix>.<Operation>``;
- REST-JSON (Access Analyzer, Roles Anywhere): the method and the operation's ``requestUri``
  template (``/analyzer/{analyzerName}/archive-rule/{ruleName}``, greedy ``{Key+}``, literal
  query parts such as ``?tagging``); the most specific template wins and its labels come back,
  percent-decoded, as :attr:`OperationRef.path_params`.

An operation name that a served service's model does not have (a newer SDK's operation, such as
IAM's ``CreateWorkloadIdentityProvider`` before botocore 1.44.18) still resolves, to a ref whose
:attr:`OperationRef.known` is False: the pipeline answers it ``UnsupportedOperation`` naming it, in
that service's protocol, and records it on the trail. A request signed for a service iamd does not
serve raises :class:`NotServed`, which carries botocore's model of that service when botocore has
one, so that the error can be written in that service's protocol.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from threading import Lock
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.loaders import Loader, create_loader
from botocore.model import OperationModel, ServiceModel

from iamd.wire.errors import InvalidAction, MissingAction, UnsupportedOperation
from iamd.wire.http import HttpRequest

__all__ = [
    "DEFAULT_SERVICES",
    "SUPPORTED_PROTOCOLS",
    "NotServed",
    "OperationRef",
    "ServiceCatalog",
    "load_service_model",
    "protocol_name",
    "requires_auth",
]

DEFAULT_SERVICES: tuple[str, ...] = (
    "iam",
    "sts",
    "organizations",
    "accessanalyzer",
    "cloudtrail",
    "rolesanywhere",
    "sso-admin",
    "identitystore",
    "sso-oidc",
    "sso",
)
SUPPORTED_PROTOCOLS: tuple[str, ...] = ("query", "json", "rest-json")
# What an operation name looks like (Smithy shape names: ``CreateWorkloadIdentityProvider``).
_OPERATION_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,127}")


@cache
def _default_loader() -> Loader:
    return create_loader()


_model_lock = Lock()
_models: dict[tuple[str, str | None], ServiceModel] = {}


def load_service_model(
    name: str, api_version: str | None = None, *, loader: Loader | None = None
) -> ServiceModel:
    """botocore's model of service ``name`` (``iam``, ``accessanalyzer`` …), loaded once per
    process when the default loader is used."""
    if loader is not None:
        return ServiceModel(loader.load_service_model(name, "service-2", api_version), service_name=name)
    key = (name, api_version)
    with _model_lock:
        model = _models.get(key)
        if model is None:
            data = _default_loader().load_service_model(name, "service-2", api_version)
            model = _models[key] = ServiceModel(data, service_name=name)
    return model


def protocol_name(service: ServiceModel) -> str:
    """The wire protocol iamd speaks for ``service``: the first of the model's ``protocols`` that
    iamd supports, else its ``protocol``."""
    metadata: Mapping[str, Any] = service.metadata
    for candidate in metadata.get("protocols") or ():
        if candidate in SUPPORTED_PROTOCOLS:
            return str(candidate)
    return str(metadata["protocol"])


def requires_auth(operation: OperationModel) -> bool:
    """False for operations AWS serves unsigned (STS ``AssumeRoleWithWebIdentity``,
    ``AssumeRoleWithSAML``)."""
    if operation.auth_type == "none":
        return False
    auth = getattr(operation, "auth", None) or ()
    return "smithy.api#noAuth" not in auth


@dataclass(frozen=True, slots=True)
class OperationRef:
    """The operation a request is for."""

    service_name: str
    service_model: ServiceModel
    operation_model: OperationModel
    path_params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    known: bool = True
    """False for an operation the service's model does not have (a newer SDK's): its
    ``operation_model`` is a stand-in with no input or output."""

    @property
    def name(self) -> str:
        return str(self.operation_model.name)

    @property
    def protocol(self) -> str:
        return protocol_name(self.service_model)


class NotServed(UnsupportedOperation):
    """A request signed for a service iamd does not serve (S3, DynamoDB, Lambda …)."""

    def __init__(self, signing_name: str, served: Iterable[str], model: ServiceModel | None) -> None:
        title = model.metadata.get("serviceFullName") if model is not None else None
        what = f"{title} ({signing_name})" if title else f"service {signing_name!r}"
        super().__init__(
            f"iamd does not serve {what}; it serves {', '.join(served)}. "
            f"Send {signing_name} requests to that service's own endpoint."
        )
        self.signing_name = signing_name
        self.model = model
        """botocore's model of the service, when botocore has one by that name."""


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    regex: re.Pattern[str]
    labels: tuple[str, ...]
    query: tuple[tuple[str, str | None], ...]  # literal query parts: (name, value or None)
    operation: str
    rank: tuple[int, int, int]

    def match(self, method: str, path: str, query: Mapping[str, str]) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        for name, value in self.query:
            if name not in query or (value is not None and query[name] != value):
                return None
        return {label: unquote(found.group(f"g{i}")) for i, label in enumerate(self.labels)}


def _compile_route(operation: OperationModel) -> _Route:
    http: Mapping[str, Any] = operation.http
    template = str(http.get("requestUri", "/"))
    path_part, _, query_part = template.partition("?")
    labels: list[str] = []
    pieces: list[str] = []
    literal_segments = 0
    greedy = 0
    for segment in path_part.split("/"):
        pattern = ""
        for token in re.split(r"(\{[^}]+\})", segment):
            if token.startswith("{") and token.endswith("}"):
                name = token[1:-1]
                group = f"g{len(labels)}"
                if name.endswith("+"):
                    labels.append(name[:-1])
                    greedy += 1
                    pattern += f"(?P<{group}>.+)"
                else:
                    labels.append(name)
                    pattern += f"(?P<{group}>[^/]+)"
            else:
                pattern += re.escape(token)
        if segment and "{" not in segment:
            literal_segments += 1
        pieces.append(pattern)
    query: list[tuple[str, str | None]] = []
    for part in query_part.split("&") if query_part else ():
        name, sep, value = part.partition("=")
        query.append((name, value if sep else None))
    return _Route(
        method=str(http.get("method", "POST")).upper(),
        regex=re.compile("/".join(pieces)),
        labels=tuple(labels),
        query=tuple(query),
        operation=str(operation.name),
        rank=(literal_segments, len(query), -greedy),
    )


@cache
def _botocore_model(name: str) -> ServiceModel | None:
    """botocore's model of the service called ``name`` (a SigV4 signing name, which is the
    service's name for most services: ``s3``, ``dynamodb``, ``lambda``), or None."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", name):
        return None
    try:
        return load_service_model(name)
    except Exception:  # botocore's UnknownServiceError / DataNotFoundError: no such model
        return None


class ServiceCatalog:
    """The service models a server answers for, and request routing over them."""

    def __init__(self, services: Iterable[str] = DEFAULT_SERVICES, *, loader: Loader | None = None) -> None:
        self._names: tuple[str, ...] = tuple(services)
        self._loader = loader
        self._services: dict[str, ServiceModel] = {}
        self._routes: dict[str, list[_Route]] = {}
        self._lock = Lock()
        # What routing asks of the (immutable) models on every request, worked out once; bounded
        # by the served services and their operations.
        self._signing: dict[str, tuple[str, ...]] = {}
        self._protocols: dict[str, str] = {}
        self._refs: dict[tuple[str, str], OperationRef] = {}

    @property
    def service_names(self) -> tuple[str, ...]:
        return self._names

    def service(self, name: str) -> ServiceModel:
        model = self._services.get(name)
        if model is None:
            model = load_service_model(name, loader=self._loader)
            with self._lock:
                self._services[name] = model
        return model

    def operation(self, service: str, operation: str) -> OperationModel:
        return self.service(service).operation_model(operation)

    def operation_ref(
        self, service: str, operation: str, path_params: Mapping[str, str] | None = None
    ) -> OperationRef:
        if not path_params:
            found = self._refs.get((service, operation))
            if found is None:
                model = self.service(service)
                found = OperationRef(service, model, model.operation_model(operation))
                self._refs[service, operation] = found
            return found
        model = self.service(service)
        return OperationRef(
            service, model, model.operation_model(operation), MappingProxyType(dict(path_params))
        )

    def unknown_operation(self, service: str, operation: str) -> OperationRef:
        """A ref to ``operation``, which ``service``'s model does not have (``known`` False)."""
        model = self.service(service)
        stand_in = OperationModel({"name": operation, "http": {"method": "POST", "requestUri": "/"}}, model)
        return OperationRef(service, model, stand_in, known=False)

    def services_for_signing_name(self, signing_name: str) -> list[str]:
        """Served services whose SigV4 signing name is ``signing_name`` (``access-analyzer`` is
        ``accessanalyzer``; ``sso`` is ``sso-admin``)."""
        return list(self._signed_by(signing_name))

    def _signed_by(self, signing_name: str) -> tuple[str, ...]:
        found = self._signing.get(signing_name)
        if found is None:
            found = tuple(n for n in self._names if self.service(n).signing_name == signing_name)
            if len(self._signing) < 1024:  # (names from requests: those of no service too)
                self._signing[signing_name] = found
        return found

    def _protocol(self, service: str) -> str:
        found = self._protocols.get(service)
        if found is None:
            found = self._protocols[service] = protocol_name(self.service(service))
        return found

    # --- routing ------------------------------------------------------------------------------

    def resolve(self, request: HttpRequest, *, signing_service: str | None = None) -> OperationRef:
        """The operation ``request`` is for. ``signing_service`` (the credential scope's service,
        when the request is signed) narrows the search. Raises :class:`NotServed` (signed for a
        service iamd does not serve), :class:`InvalidAction` (an action that is no operation name,
        a target or route of no served service, another API version) or :class:`MissingAction`."""
        candidates = self._names
        if signing_service:
            served = self._signed_by(signing_service)
            if not served:
                raise NotServed(signing_service, self._names, _botocore_model(signing_service))
            candidates = served
        by_protocol: dict[str, list[str]] = {}
        for name in candidates:
            by_protocol.setdefault(self._protocol(name), []).append(name)
        target = request.headers.get("x-amz-target")
        if target is not None and by_protocol.get("json"):
            return self._resolve_json(target, by_protocol["json"])
        query_services = by_protocol.get("query", [])
        if query_services and ("Action" in request.form_params or not by_protocol.get("rest-json")):
            return self._resolve_query(request, query_services)
        rest_services = by_protocol.get("rest-json", [])
        if rest_services:
            return self._resolve_rest(request, rest_services)
        if target is not None:
            raise InvalidAction(f"Unknown operation {target}", status=400)
        raise MissingAction()

    def _resolve_json(self, target: str, services: list[str]) -> OperationRef:
        prefix, _, operation = target.rpartition(".")
        for name in services:
            model = self.service(name)
            if model.metadata.get("targetPrefix") == prefix:
                if operation in model.operation_names:
                    return self.operation_ref(name, operation)
                if _OPERATION_NAME.fullmatch(operation):
                    return self.unknown_operation(name, operation)
        raise InvalidAction(f"Unknown operation {target}")

    def _resolve_query(self, request: HttpRequest, services: list[str]) -> OperationRef:
        params = request.form_params
        action = params.get("Action")
        if not action:
            raise MissingAction()
        matches = [n for n in services if action in self.service(n).operation_names]
        if len(matches) > 1:
            host = request.headers.get("host", "").split(".", 1)[0].lower()
            by_host = [n for n in matches if self.service(n).endpoint_prefix == host]
            matches = by_host or matches
        known = bool(matches)
        if not known:
            if not _OPERATION_NAME.fullmatch(action):
                version = params.get("Version") or self.service(services[0]).api_version
                raise InvalidAction(f"Could not find operation {action} for version {version}")
            # An operation of a newer model: the service the scope or the Host names, else the first.
            host = request.headers.get("host", "").split(".", 1)[0].lower()
            matches = [n for n in services if self.service(n).endpoint_prefix == host] or services
        name = matches[0]
        model = self.service(name)
        version = params.get("Version")
        if version and version != model.api_version:
            raise InvalidAction(f"Could not find operation {action} for version {version}")
        return self.operation_ref(name, action) if known else self.unknown_operation(name, action)

    def _resolve_rest(self, request: HttpRequest, services: list[str]) -> OperationRef:
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        best: tuple[tuple[int, int, int], str, _Route, dict[str, str]] | None = None
        for name in services:
            for route in self._routes_for(name):
                params = route.match(request.method, request.path, query)
                if params is not None and (best is None or route.rank > best[0]):
                    best = (route.rank, name, route, params)
        if best is None:
            raise InvalidAction(
                f"No operation matches {request.method} {request.path}",
                json_code="UnknownOperationException",
                status=404,
            )
        _, name, route, params = best
        return self.operation_ref(name, route.operation, params)

    def _routes_for(self, service: str) -> list[_Route]:
        routes = self._routes.get(service)
        if routes is None:
            model = self.service(service)
            routes = [_compile_route(model.operation_model(op)) for op in model.operation_names]
            routes.sort(key=lambda r: r.rank, reverse=True)
            with self._lock:
                self._routes[service] = routes
        return routes
