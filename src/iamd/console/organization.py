"""The console's Organization page (``/console/organization``): the organization of the signed-in
identity's account as a tree, root → OUs (nested) → accounts, each node with the SCPs and RCPs
attached to it, and the organization's id and feature set.

Everything shown is read with AWS Organizations' own operations (DescribeOrganization, ListRoots,
ListOrganizationalUnitsForParent, ListAccountsForParent, ListPoliciesForTarget) run as the
signed-in identity (:mod:`iamd.console.runner`), so the same policies decide what it may see and
every read is on the trail. The tree is for the management account (or a delegated
administrator), as those operations are; anyone else gets one sentence saying why not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from iamd.console.identity import SessionEnded
from iamd.console.kit.pages import REGISTRY
from iamd.console.runner import RequestFacts
from iamd.console.sessions import ConsoleSession
from iamd.wire import AccessDenied, AwsError

if TYPE_CHECKING:
    from iamd.console.kit import Kit as Console

__all__ = ["Node", "area"]

SERVICE: Final = "organizations"
SCP: Final = "SERVICE_CONTROL_POLICY"
RCP: Final = "RESOURCE_CONTROL_POLICY"
MAX_NODES: Final = 5000
"""Roots, OUs and accounts read for one page at most (AWS's default quotas: 2000 OUs, 10 accounts
raised on request); beyond it the page says the tree is cut short."""


@dataclass
class Node:
    """A root, an OU or an account, with the policies attached to it."""

    kind: str  # root, ou, account
    id: str
    name: str
    scps: list[str] = field(default_factory=list)
    rcps: list[str] = field(default_factory=list)
    email: str = ""
    status: str = ""
    ous: list[Node] = field(default_factory=list)
    accounts: list[Node] = field(default_factory=list)


Call = Callable[[str, dict[str, Any]], dict[str, Any]]


def _all(call: Call, operation: str, key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        answer = call(operation, {**params, **({"NextToken": token} if token else {})})
        items.extend(answer.get(key, []))
        token = answer.get("NextToken")
        if not token:
            return items


class _Reader:
    def __init__(self, call: Call, types: set[str]) -> None:
        self.call = call
        self.types = types
        self.count = 0
        self.cut = False

    def policies(self, node: Node) -> None:
        for kind, into in ((SCP, node.scps), (RCP, node.rcps)):
            if kind in self.types:
                listed = _all(
                    self.call, "ListPoliciesForTarget", "Policies", {"TargetId": node.id, "Filter": kind}
                )
                into.extend(sorted(p["Name"] for p in listed))

    def children(self, node: Node, depth: int = 0) -> Node:
        self.count += 1
        self.policies(node)
        for ou in _all(
            self.call, "ListOrganizationalUnitsForParent", "OrganizationalUnits", {"ParentId": node.id}
        ):
            if self.count >= MAX_NODES or depth > 5:
                self.cut = True
                break
            node.ous.append(self.children(Node("ou", ou["Id"], ou["Name"]), depth + 1))
        for account in _all(self.call, "ListAccountsForParent", "Accounts", {"ParentId": node.id}):
            if self.count >= MAX_NODES:
                self.cut = True
                break
            self.count += 1
            member = Node(
                "account",
                account["Id"],
                account.get("Name", ""),
                email=account.get("Email", ""),
                status=account.get("Status", ""),
            )
            self.policies(member)
            node.accounts.append(member)
        node.ous.sort(key=lambda n: n.name.lower())
        node.accounts.sort(key=lambda n: n.name.lower())
        return node


def _read(console: Console, session: ConsoleSession, facts: RequestFacts) -> dict[str, Any]:
    """The page's data, or ``unavailable``: the one sentence saying why there is no tree."""

    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return console.runner.invoke(session, facts, operation, params, service=SERVICE) or {}

    account = session.account_id
    try:
        described = call("DescribeOrganization", {})["Organization"]
    except AwsError as error:
        if error.code == "AWSOrganizationsNotInUseException":
            return {"unavailable": f"Account {account} is not in an organization."}
        return {
            "unavailable": f"You may not read this account's organization: {error.message}",
            "why": console.runner.reasons(session, facts, error),
        }
    organization = {
        "id": described["Id"],
        "feature_set": described.get("FeatureSet", ""),
        "management_id": described.get("MasterAccountId", ""),
        "management_email": described.get("MasterAccountEmail", ""),
    }
    try:
        roots = call("ListRoots", {})["Roots"]
        trees = []
        cut = False
        for root in roots:
            types = {t["Type"] for t in root.get("PolicyTypes", []) if t.get("Status") == "ENABLED"}
            reader = _Reader(call, types)
            trees.append(reader.children(Node("root", root["Id"], root.get("Name", "Root"))))
            cut = cut or reader.cut
    except AwsError as error:
        if account != organization["management_id"] and not isinstance(error, AccessDenied):
            sentence = (
                f"Only the management account of organization {organization['id']} "
                f"({organization['management_id']}) or a delegated administrator can see its tree; "
                f"account {account} is a member."
            )
        else:
            sentence = f"You may not read the tree of organization {organization['id']}: {error.message}"
        return {
            "organization": organization,
            "unavailable": sentence,
            "why": console.runner.reasons(session, facts, error),
        }
    return {"organization": organization, "roots": trees, "cut": cut}


async def _page(console: Console, request: Request) -> Response:
    session = console._session(request)
    guarded = console._guard(request, session, "active")
    if guarded is not None:
        return guarded
    try:
        data = await run_in_threadpool(_read, console, session, console._facts(request))
    except SessionEnded:
        return console._signed_out(request, session)
    return console._render(request, session, "organization.html", title="Organization", **data)


area = REGISTRY.area("organization")
area.add_nav("Organization", "/organization", section="Organization", order=10)


@area.get("/organization")
async def organization_page(kit: Console, request: Request) -> Response:
    return await _page(kit, request)
