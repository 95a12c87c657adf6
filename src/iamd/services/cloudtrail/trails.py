"""CloudTrail's trail reads (DescribeTrails, GetTrail, GetTrailStatus, ListTrails): iamd's trail
appears as one multi-Region trail named ``iamd``, so that tools which take a trail ARN (Access
Analyzer's StartPolicyGeneration ``cloudTrailDetails``) can be given one, as on AWS.

It has no S3 bucket (iamd keeps its events in its database and, optionally, JSON Lines files); log
file validation is on (iamd chains every event and signs digests: ``iamd trail verify``).
"""

from __future__ import annotations

from typing import Any, Final

from iamd.services.framework import OperationContext, operation
from iamd.wire import AwsError, load_service_model, modeled_error

__all__ = ["TRAIL_NAME", "trail_arn"]

TRAIL_NAME: Final = "iamd"


def trail_arn(region: str, account: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{TRAIL_NAME}"


def _error(shape: str, message: str) -> AwsError:
    return modeled_error(load_service_model("cloudtrail"), shape, message)


def _trail(ctx: OperationContext) -> dict[str, Any]:
    return {
        "Name": TRAIL_NAME,
        "IncludeGlobalServiceEvents": True,
        "IsMultiRegionTrail": True,
        "HomeRegion": ctx.info.region,
        "TrailARN": trail_arn(ctx.info.region, ctx.account_id),
        "LogFileValidationEnabled": True,
        "HasCustomEventSelectors": False,
        "HasInsightSelectors": False,
        "IsOrganizationTrail": False,
    }


def _is_ours(ctx: OperationContext, name: str) -> bool:
    """``iamd`` or its ARN in the caller's account (any Region: the trail is multi-Region)."""
    if name == TRAIL_NAME:
        return True
    parts = name.split(":")
    if name.startswith("arn:"):
        if len(parts) != 6 or parts[2] != "cloudtrail" or not parts[5].startswith("trail/"):
            raise _error("CloudTrailARNInvalidException", f"{name} is not a valid trail ARN")
        return parts[4] == ctx.account_id and parts[5] == f"trail/{TRAIL_NAME}"
    return False


def _named(ctx: OperationContext, params: dict[str, Any], action: str) -> None:
    name = str(params["Name"])
    ctx.authorize(action, trail_arn(ctx.info.region, ctx.account_id))
    if not _is_ours(ctx, name):
        raise _error("TrailNotFoundException", f"Unknown trail: {name} for the user: {ctx.account_id}")


@operation("cloudtrail", "DescribeTrails", readonly=True)
def describe_trails(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("cloudtrail:DescribeTrails", "*")
    names = params.get("trailNameList") or []
    if names and not any(_is_ours(ctx, str(n)) for n in names):
        return {"trailList": []}
    return {"trailList": [_trail(ctx)]}


@operation("cloudtrail", "ListTrails", readonly=True)
def list_trails(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.authorize("cloudtrail:ListTrails", "*")
    trail = _trail(ctx)
    return {
        "Trails": [{"TrailARN": trail["TrailARN"], "Name": TRAIL_NAME, "HomeRegion": trail["HomeRegion"]}]
    }


@operation("cloudtrail", "GetTrail", readonly=True)
def get_trail(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    _named(ctx, params, "cloudtrail:GetTrail")
    return {"Trail": _trail(ctx)}


@operation("cloudtrail", "GetTrailStatus", readonly=True)
def get_trail_status(ctx: OperationContext, params: dict[str, Any]) -> dict[str, Any]:
    _named(ctx, params, "cloudtrail:GetTrailStatus")
    status: dict[str, Any] = {"IsLogging": True}
    digest = ctx.uow.audit.last_digest()
    if digest is not None:
        status["LatestDigestDeliveryTime"] = digest.created_at
    return status
