"""What principals can do, decided by iamd's evaluator (``iamd.authz.evaluate``) over the policies
the snapshot holds: who is an administrator, who can make themselves or others administrators
(each step of the path proven), who can create users or roles without a permissions boundary.

Every principal's identity policies (its own, its groups', attached managed ones) and its boundary
are parsed and compiled once; principals with the same policies share the compiled set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from iamd.authz import (
    Layer,
    NamedPolicy,
    PolicySet,
    PrincipalKind,
    PrincipalPolicies,
    Request,
    compile_policies,
    evaluate,
)
from iamd.authz import Principal as Caller
from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.ast import Policy
from iamd.practices.model import Step
from iamd.practices.snapshot import Group, Principal, Snapshot

__all__ = ["ADMIN_PROBES", "Analysis", "Escalation"]

# An administrator is allowed all of these on every resource: IAM writes, code execution, data,
# keys and the guardrails around them. A policy granting ``*:*`` (or AdministratorAccess) passes
# all; PowerUserAccess fails the IAM ones, IAMFullAccess the others.
ADMIN_PROBES: Final = (
    "iam:CreateUser",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:PassRole",
    "sts:AssumeRole",
    "ec2:RunInstances",
    "lambda:CreateFunction",
    "s3:DeleteBucket",
    "kms:Decrypt",
    "cloudtrail:StopLogging",
    "organizations:LeaveOrganization",
)

# Services that run code with the role passed to them, and the actions that make them run it
# (Rhino Security Labs' and Bishop Fox's IAM privilege-escalation methods).
CODE_RUNNERS: Final[Mapping[str, tuple[str, ...]]] = {
    "lambda.amazonaws.com": ("lambda:CreateFunction", "lambda:InvokeFunction"),
    "ec2.amazonaws.com": ("ec2:RunInstances",),
    "cloudformation.amazonaws.com": ("cloudformation:CreateStack",),
    "glue.amazonaws.com": ("glue:CreateDevEndpoint",),
    "codebuild.amazonaws.com": ("codebuild:CreateProject", "codebuild:StartBuild"),
    "ecs-tasks.amazonaws.com": ("ecs:RegisterTaskDefinition", "ecs:RunTask"),
}

_PROBE_NAME: Final = "iamd-review-probe"


@dataclass(frozen=True, slots=True)
class Escalation:
    principal: Principal
    method: str
    target: str
    steps: tuple[Step, ...]
    others: tuple[str, ...] = ()
    """The other methods that work too."""


class Analysis:
    """Lazily computed facts about a snapshot's principals, shared by the checks."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snap = snapshot
        self._parsed: dict[str, Policy | None] = {}
        self._sets: dict[tuple[str, ...], PrincipalPolicies] = {}
        self._groups = snapshot.group_by_name()
        partition = snapshot.partition
        self.admin_policy_arn = f"arn:{partition}:iam::aws:policy/AdministratorAccess"
        self._prefix = f"arn:{partition}:iam::{snapshot.account_id}"

    # -- policies ---------------------------------------------------------------------------------

    def parsed(self, document: Mapping[str, Any]) -> Policy | None:
        text = json.dumps(document, sort_keys=True)
        if text not in self._parsed:
            try:
                self._parsed[text] = parse_policy(text, PolicyKind.IDENTITY, strict=False)
            except PolicyError:
                self._parsed[text] = None
        return self._parsed[text]

    def _managed(self, arn: str) -> list[tuple[str, Mapping[str, Any]]]:
        policy = self.snap.policies.get(arn)
        return [(policy.name if policy else arn.rsplit("/", 1)[-1], policy.document if policy else {})]

    def named_documents(
        self, inline: Mapping[str, Mapping[str, Any]], attached: Sequence[str], owner: str
    ) -> list[tuple[str, Mapping[str, Any]]]:
        out: list[tuple[str, Mapping[str, Any]]] = [(f"{owner} inline {n}", d) for n, d in inline.items()]
        for arn in attached:
            out.extend(self._managed(arn))
        return out

    def documents_of(self, principal: Principal) -> list[tuple[str, Mapping[str, Any]]]:
        """The identity policies in effect for ``principal``: its own and its groups'."""
        out = self.named_documents(principal.inline, principal.attached, principal.name)
        for name in principal.groups:
            group = self._groups.get(name)
            if group is not None:
                out.extend(self.named_documents(group.inline, group.attached, f"group {group.name}"))
        return out

    def _compile(self, documents: Sequence[tuple[str, Mapping[str, Any]]]) -> PolicySet:
        named = []
        for name, document in documents:
            policy = self.parsed(document)
            if policy is not None:
                named.append(NamedPolicy(name, policy))
        return compile_policies(named)

    def policies(self, principal: Principal | Group) -> PrincipalPolicies:
        if isinstance(principal, Group):
            documents = self.named_documents(principal.inline, principal.attached, f"group {principal.name}")
            boundary = None
        else:
            documents = self.documents_of(principal)
            boundary = principal.boundary
        key = (
            *(f"{name}\x00{json.dumps(doc, sort_keys=True)}" for name, doc in documents),
            f"boundary\x00{boundary}",
        )
        found = self._sets.get(key)
        if found is None:
            boundary_set = self._compile(self._managed(boundary)) if boundary else None
            found = PrincipalPolicies(identity=self._compile(documents), boundary=boundary_set)
            self._sets[key] = found
        return found

    # -- decisions --------------------------------------------------------------------------------

    def caller(self, principal: Principal | Group) -> Caller:
        account = self.snap.account_id
        if isinstance(principal, Group):
            return Caller(PrincipalKind.USER, f"{self._prefix}:user/{_PROBE_NAME}", account)
        if principal.kind == "user":
            return Caller(PrincipalKind.USER, principal.arn, account)
        partition = principal.arn.split(":")[1]
        session = f"arn:{partition}:sts::{account}:assumed-role/{principal.name}/{_PROBE_NAME}"
        return Caller(
            PrincipalKind.ASSUMED_ROLE, session, account, role_name=principal.name, role_arn=principal.arn
        )

    def allowed_by(
        self,
        principal: Principal | Group,
        action: str,
        resource: str,
        context: Mapping[str, str] | None = None,
    ) -> str | None:
        """The identity statement that allows ``action`` on ``resource`` (``policy:Sid``), or None
        when the evaluator does not allow it."""
        policies = self.policies(principal)
        if not policies.identity.split_for_action(action.lower())[1]:
            return None  # no Allow statement names the action: denied without evaluating
        request = Request(
            self.caller(principal),
            action,
            resource,
            context={k.lower(): v for k, v in (context or {}).items()},
        )
        decision = evaluate(request, policies)
        if not decision.allowed:
            return None
        for layer in decision.layers:
            if layer.layer is Layer.IDENTITY and layer.allows:
                return layer.allows[0].label
        return "an identity policy"

    def _is_admin(self, principal: Principal | Group) -> bool:
        return all(self.allowed_by(principal, action, "*") for action in ADMIN_PROBES)

    @cached_property
    def admin_users(self) -> frozenset[str]:
        return frozenset(u.arn for u in self.snap.users if self._is_admin(u))

    @cached_property
    def admin_roles(self) -> frozenset[str]:
        return frozenset(r.arn for r in self.snap.roles if not r.service_linked and self._is_admin(r))

    @cached_property
    def admin_groups(self) -> frozenset[str]:
        return frozenset(g.arn for g in self.snap.groups if self._is_admin(g))

    def is_admin(self, principal: Principal) -> bool:
        return principal.arn in (self.admin_users if principal.kind == "user" else self.admin_roles)

    # -- privilege escalation ---------------------------------------------------------------------

    def _prove(
        self, principal: Principal, steps: Sequence[tuple[str, str, Mapping[str, str] | None]]
    ) -> tuple[Step, ...] | None:
        proven = []
        for action, resource, context in steps:
            statement = self.allowed_by(principal, action, resource, context)
            if statement is None:
                return None
            proven.append(Step(action, resource, statement))
        return tuple(proven)

    def _methods(
        self, principal: Principal
    ) -> list[tuple[str, str, list[tuple[str, str, Mapping[str, str] | None]]]]:
        """(method, target, steps) to try, cheapest first."""
        admin = {"iam:PolicyARN": self.admin_policy_arn}
        me = principal.arn
        out: list[tuple[str, str, list[tuple[str, str, Mapping[str, str] | None]]]] = []
        if principal.kind == "user":
            out.append(("AttachUserPolicy on itself", me, [("iam:AttachUserPolicy", me, admin)]))
            out.append(("PutUserPolicy on itself", me, [("iam:PutUserPolicy", me, None)]))
            for name in principal.groups:
                group = self._groups.get(name)
                if group is not None:
                    out.append(
                        (
                            f"AttachGroupPolicy on its group {name}",
                            me,
                            [("iam:AttachGroupPolicy", group.arn, admin)],
                        )
                    )
                    out.append(
                        (f"PutGroupPolicy on its group {name}", me, [("iam:PutGroupPolicy", group.arn, None)])
                    )
            for group in self.snap.groups:
                if group.arn in self.admin_groups and group.name not in principal.groups:
                    out.append(
                        (f"AddUserToGroup {group.name}", me, [("iam:AddUserToGroup", group.arn, None)])
                    )
        else:
            out.append(("AttachRolePolicy on itself", me, [("iam:AttachRolePolicy", me, admin)]))
            out.append(("PutRolePolicy on itself", me, [("iam:PutRolePolicy", me, None)]))
        for arn in self._customer_policies_of(principal):
            out.append(
                (
                    f"CreatePolicyVersion of {arn.rsplit('/', 1)[-1]}",
                    me,
                    [("iam:CreatePolicyVersion", arn, None)],
                )
            )
            if self._has_admin_version(arn):
                out.append(
                    (
                        f"SetDefaultPolicyVersion of {arn.rsplit('/', 1)[-1]}",
                        me,
                        [("iam:SetDefaultPolicyVersion", arn, None)],
                    )
                )
        for user in self.snap.users:
            if user.arn in self.admin_users and user.arn != me:
                for action in ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"):
                    out.append(
                        (f"{action.split(':')[1]} for {user.name}", user.arn, [(action, user.arn, None)])
                    )
        for role in self.snap.roles:
            if role.arn in self.admin_roles and role.arn != me:
                out.append(
                    (
                        f"UpdateAssumeRolePolicy of {role.name}",
                        role.arn,
                        [("iam:UpdateAssumeRolePolicy", role.arn, None)],
                    )
                )
                for service in _trusted_services(role):
                    actions = CODE_RUNNERS.get(service)
                    if actions:
                        steps: list[tuple[str, str, Mapping[str, str] | None]] = [
                            ("iam:PassRole", role.arn, {"iam:PassedToService": service})
                        ]
                        steps.extend((a, "*", None) for a in actions)
                        out.append((f"PassRole {role.name} to {service.split('.')[0]}", role.arn, steps))
        new_user = f"{self._prefix}:user/{_PROBE_NAME}"
        out.append(
            (
                "CreateUser with AdministratorAccess",
                new_user,
                [
                    ("iam:CreateUser", new_user, None),
                    ("iam:AttachUserPolicy", new_user, admin),
                    ("iam:CreateAccessKey", new_user, None),
                ],
            )
        )
        return out

    def _customer_policies_of(self, principal: Principal) -> list[str]:
        arns = list(principal.attached)
        for name in principal.groups:
            group = self._groups.get(name)
            if group is not None:
                arns.extend(group.attached)
        return [
            a
            for a in dict.fromkeys(arns)
            if a in self.snap.policies and not self.snap.policies[a].aws_managed
        ]

    def _has_admin_version(self, arn: str) -> bool:
        policy = self.snap.policies[arn]
        default = json.dumps(policy.document, sort_keys=True)
        for document in policy.versions.values():
            if json.dumps(document, sort_keys=True) == default:
                continue
            probe = Group("version", f"{self._prefix}:group/{_PROBE_NAME}", {"v": document}, ())
            if self._is_admin(probe):
                return True
        return False

    def escalation(self, principal: Principal) -> Escalation | None:
        """The first proven path by which ``principal`` (not itself an administrator) becomes one
        or makes another principal one; None when there is none."""
        if principal.service_linked or self.is_admin(principal):
            return None
        identity = self.policies(principal).identity
        if not any(
            identity.split_for_action(a)[1]
            for a in (
                "iam:attachuserpolicy",
                "iam:putuserpolicy",
                "iam:attachrolepolicy",
                "iam:putrolepolicy",
                "iam:attachgrouppolicy",
                "iam:putgrouppolicy",
                "iam:addusertogroup",
                "iam:createpolicyversion",
                "iam:setdefaultpolicyversion",
                "iam:createaccesskey",
                "iam:createloginprofile",
                "iam:updateloginprofile",
                "iam:updateassumerolepolicy",
                "iam:passrole",
                "iam:createuser",
            )
        ):
            return None
        found: Escalation | None = None
        others: list[str] = []
        for method, target, steps in self._methods(principal):
            proven = self._prove(principal, steps)
            if proven is None:
                continue
            if found is None:
                found = Escalation(principal, method, target, proven)
            else:
                others.append(method)
        if found is None:
            return None
        return Escalation(found.principal, found.method, found.target, found.steps, tuple(others))

    def creates_without_boundary(self, principal: Principal) -> list[str]:
        """The create actions (iam:CreateUser, iam:CreateRole) allowed without an
        iam:PermissionsBoundary in the request."""
        out = []
        for action, kind in (("iam:CreateUser", "user"), ("iam:CreateRole", "role")):
            if self.allowed_by(principal, action, f"{self._prefix}:{kind}/{_PROBE_NAME}"):
                out.append(action)
        return out


def _trusted_services(role: Principal) -> list[str]:
    out: list[str] = []
    for statement in (role.trust or {}).get("Statement", []) if isinstance(role.trust, dict) else []:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            service = principal.get("Service")
            out.extend(
                [service] if isinstance(service, str) else [s for s in service or [] if isinstance(s, str)]
            )
    return out
