"""Console actions run as IAM operations: the same handlers, the same authorization
(``Authorizer.decide`` with the session's caller, whose MFA state the sign-in set), one store
transaction each, and the same error mapping as the API pipeline.

Every console call goes onto the trail (when the server keeps one) as the IAM call it is, with the
session's caller, source address and user agent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from iamd.authz import Decision
from iamd.console.identity import SessionEnded, session_caller
from iamd.console.sessions import ConsoleSession
from iamd.server.sessions import resolver_for
from iamd.services.framework import Caller, OperationContext, RequestInfo, handler_for, store_errors_as_aws
from iamd.store.unit import UnitOfWork
from iamd.wire import (
    AccessDenied,
    AwsError,
    OperationRef,
    ValidationError,
    load_service_model,
    validate,
)

if TYPE_CHECKING:
    from iamd.server.pipeline import Pipeline

__all__ = ["ConsoleRunner", "RequestFacts"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RequestFacts:
    source_ip: str
    user_agent: str
    secure: bool
    request_id: str


class ConsoleRunner:
    """Runs console work against the pipeline's store, clock, ids and authorizer."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.clock = pipeline.clock
        self.resolver = resolver_for(pipeline.store)

    def now(self) -> datetime:
        return self.clock.now()

    def transaction(self, work: Callable[[UnitOfWork], T], *, readonly: bool = False) -> T:
        return self.store.run(work, readonly=readonly)

    def run(
        self,
        session: ConsoleSession,
        facts: RequestFacts,
        operation: str,
        body: Callable[[OperationContext], T],
        *,
        readonly: bool = False,
        params: Mapping[str, Any] | None = None,
        service: str = "iam",
    ) -> T:
        """Run ``body`` as the session's caller, authorized like the call ``operation`` of
        ``service`` (botocore's service name: ``iam``, ``accessanalyzer``).
        SessionEnded when the session's identity no longer holds; AwsError as the API answers.
        ``params``: the operation's parameters as the trail shows them (secrets are redacted
        there); None when the console's work is not one API call's parameters."""
        now = self.now()
        seen: list[Caller] = []
        info = self._info(facts, service, operation, now)
        authorizer = self.pipeline.authorizer
        if self.pipeline.trail is not None:
            # As the API pipeline does: an operation that reads the trail (last-accessed data,
            # unused access) first stores the events still waiting in the writer's batch.
            model = load_service_model(service)
            self.pipeline.trail.before(OperationRef(service, model, model.operation_model(operation)))

        def work(uow: UnitOfWork) -> tuple[T, Caller]:
            caller = session_caller(uow, session, now, self.resolver)
            seen.append(caller)

            def authorize_with(
                action: str,
                resource: str,
                context: Mapping[str, object] | None = None,
                *,
                resource_account: str | None = None,
            ) -> Decision:
                decision: Decision = authorizer.decide(
                    uow, caller, info, now, action, resource, context, resource_account=resource_account
                )
                return decision

            ctx = OperationContext(
                uow=uow,
                caller=caller,
                info=info,
                ids=self.pipeline.ids,
                now=now,
                authorize_with=authorize_with,
            )
            with store_errors_as_aws():
                output = body(ctx)
            if not ctx.authorized:
                raise RuntimeError(f"console:{service}:{operation} answered without authorizing")
            return output, caller

        try:
            output, caller = self.transaction(work, readonly=readonly)
        except AwsError as error:
            self._record(seen[-1] if seen else None, info, service, operation, params, None, error)
            raise
        self._record(caller, info, service, operation, params, output if params is not None else None, None)
        return output

    @staticmethod
    def _info(facts: RequestFacts, service: str, operation: str, now: datetime) -> RequestInfo:
        return RequestInfo(
            request_id=facts.request_id,
            service=service,
            operation=operation,
            region="us-east-1",
            source_ip=facts.source_ip,
            user_agent=facts.user_agent,
            secure_transport=facts.secure,
            received_at=now,
        )

    def reasons(self, session: ConsoleSession, facts: RequestFacts, error: AwsError) -> list[str]:
        """Why a console action was denied, down to the condition, for a person allowed to read
        it: AWS hides these details from the denied caller (DecodeAuthorizationMessage: "the
        details of the authorization status can contain privileged information that the user who
        requested the operation should not see"), so the console shows them only to a caller
        allowed sts:DecodeAuthorizationMessage, as the API would decode them. Empty otherwise."""
        if not isinstance(error, AccessDenied) or error.explanation is None:
            return []
        explanation = error.explanation
        now = self.now()
        info = self._info(facts, "sts", "DecodeAuthorizationMessage", now)
        authorizer = self.pipeline.authorizer

        def may_decode(uow: UnitOfWork) -> bool:
            caller = session_caller(uow, session, now, self.resolver)
            try:
                authorizer.decide(uow, caller, info, now, "sts:DecodeAuthorizationMessage", "*")
            except AccessDenied:
                return False
            return True

        try:
            allowed = self.transaction(may_decode, readonly=True)
        except (AwsError, SessionEnded):
            return []
        return explanation() if allowed else []

    def invoke(
        self,
        session: ConsoleSession,
        facts: RequestFacts,
        operation: str,
        params: dict[str, Any],
        *,
        service: str = "iam",
    ) -> dict[str, Any] | None:
        """The operation ``operation`` of ``service`` (botocore's names), as the API would run it
        for this caller. Without UserName an IAM operation acts on the caller itself (an IAM user
        or root)."""
        registration = handler_for(service, operation)
        if registration is None:
            raise RuntimeError(f"{service}:{operation} is not registered")
        shape = load_service_model(service).operation_model(operation).input_shape
        violations = [
            v
            for v in validate(shape, params)
            if not (v.path == "userName" and v.value is None and session.is_root)
        ]
        if violations:
            raise ValidationError(violations=violations)
        return self.run(
            session,
            facts,
            operation,
            lambda ctx: registration.handler(ctx, params),
            readonly=registration.readonly,
            params=params,
            service=service,
        )

    def _record(
        self,
        caller: Caller | None,
        info: RequestInfo,
        service: str,
        operation: str,
        params: Mapping[str, Any] | None,
        output: Any,
        error: AwsError | None,
    ) -> None:
        """Put the console call on the trail as the call ``operation`` of ``service`` (no trail:
        nothing). Recording never changes the answer."""
        trail = self.pipeline.trail
        if trail is None or caller is None:
            return
        model = load_service_model(service)
        ref = OperationRef(service, model, model.operation_model(operation))
        trail.console_call(ref, info, caller, params, output, error)
