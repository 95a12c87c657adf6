"""Benchmark: decisions per second of the compiled evaluator.

Run by hand:  .venv/bin/python bench/authz.py [--decisions N]

For a principal whose identity policies hold 5 and then 1,000 statements (wildcard actions and
resources, conditions on a third of them, a few Denies), it prints the median and p99 time of one
decision in microseconds and the decisions per second, on the compiled form (policies compiled
once, as the server caches them). Also the one-off compile time, and the cost of the first
decision for an action not seen before (the index lookup that later decisions reuse), and what
explaining a denial costs (``explain``: near misses down to the condition), which only a denial
pays, never an allowed request.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from iamd.authz import (
    Decision,
    NamedPolicy,
    Principal,
    PrincipalPolicies,
    Request,
    ResourcePolicies,
    compile_policies,
    evaluate,
    explain,
    normalize_context,
)
from iamd.policy import parse_policy

SERVICES = {
    "s3": ["GetObject", "PutObject", "DeleteObject", "ListBucket", "GetBucketPolicy"],
    "sqs": ["SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes"],
    "dynamodb": ["GetItem", "PutItem", "Query", "Scan", "UpdateItem"],
    "ec2": ["DescribeInstances", "RunInstances", "TerminateInstances", "DescribeVolumes"],
    "lambda": ["InvokeFunction", "GetFunction", "UpdateFunctionCode"],
    "kms": ["Decrypt", "Encrypt", "GenerateDataKey"],
    "logs": ["PutLogEvents", "CreateLogStream", "GetLogEvents"],
    "secretsmanager": ["GetSecretValue", "DescribeSecret"],
    "sns": ["Publish", "Subscribe"],
    "iam": ["GetUser", "ListUsers", "PassRole"],
}
ACCOUNT = "111122223333"


def resource_for(service: str, n: int) -> str:
    if service == "s3":
        return f"arn:aws:s3:::bucket-{n}/data/file-{n}.csv"
    if service == "iam":
        return f"arn:aws:iam::{ACCOUNT}:user/user-{n}"
    return f"arn:aws:{service}:eu-west-1:{ACCOUNT}:thing-{n}"


def resource_pattern(rng: random.Random, service: str, n: int) -> str:
    choice = rng.random()
    if choice < 0.15:
        return "*"
    if service == "s3":
        return f"arn:aws:s3:::bucket-{n}/*" if choice < 0.6 else f"arn:aws:s3:::bucket-{n}/data/file-?{n}*"
    if service == "iam":
        return f"arn:aws:iam::{ACCOUNT}:user/user-{n}*"
    return (
        f"arn:aws:{service}:*:{ACCOUNT}:thing-{n}" if choice < 0.6 else f"arn:aws:{service}:eu-*:*:thing-{n}*"
    )


CONDITIONS = [
    {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.1.0/24"]}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
    {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}},
    {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
]


def statements(rng: random.Random, count: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    services = list(SERVICES)
    for i in range(count):
        service = rng.choice(services)
        actions = SERVICES[service]
        kind = rng.random()
        if kind < 0.3:
            action: object = f"{service}:{rng.choice(actions)[:3]}*"
        elif kind < 0.4:
            action = f"{service}:*"
        else:
            action = [f"{service}:{a}" for a in rng.sample(actions, k=min(2, len(actions)))]
        stmt: dict[str, object] = {
            "Sid": f"S{i}",
            "Effect": "Deny" if i % 97 == 13 else "Allow",
            "Action": action,
            "Resource": resource_pattern(rng, service, rng.randrange(200)),
        }
        if rng.random() < 0.33:
            stmt["Condition"] = rng.choice(CONDITIONS)
        out.append(stmt)
    return out


def build(count: int, rng: random.Random) -> tuple[PrincipalPolicies, float]:
    stmts = statements(rng, count)
    # Split into policies of at most 25 statements, as a real principal's attached policies are.
    docs = [stmts[i : i + 25] for i in range(0, len(stmts), 25)]
    started = time.perf_counter()
    policies = [
        NamedPolicy(f"policy-{n}", parse_policy({"Version": "2012-10-17", "Statement": doc}, strict=False))
        for n, doc in enumerate(docs)
    ]
    compiled = PrincipalPolicies(identity=compile_policies(policies))
    return compiled, time.perf_counter() - started


def requests(rng: random.Random, n: int) -> list[Request]:
    principal = Principal.parse(f"arn:aws:iam::{ACCOUNT}:user/alice")
    context = normalize_context(
        {
            "aws:username": "alice",
            "aws:PrincipalTag/team": "blue",
            "aws:SourceIp": "10.1.2.3",
            "aws:SecureTransport": True,
            "aws:CurrentTime": "2026-11-28T12:00:00Z",
            "aws:MultiFactorAuthAge": "120",
            "s3:prefix": "home/alice/reports",
            "aws:TagKeys": ["env"],
        }
    )
    out: list[Request] = []
    for _ in range(n):
        service = rng.choice(list(SERVICES))
        action = f"{service}:{rng.choice(SERVICES[service])}"
        out.append(Request(principal, action, resource_for(service, rng.randrange(200)), ACCOUNT, context))
    return out


def run(count: int, decisions: int) -> None:
    rng = random.Random(count)
    compiled, compile_s = build(count, rng)
    reqs = requests(rng, decisions)
    # The first decision per action fills the index cache; measure it once, then the steady state.
    cold: list[float] = []
    seen: set[str] = set()
    for req in reqs:
        if req.action not in seen:
            seen.add(req.action)
            t = time.perf_counter_ns()
            evaluate(req, compiled)
            cold.append((time.perf_counter_ns() - t) / 1000)
    samples: list[float] = []
    outcomes: dict[str, int] = {}
    total_start = time.perf_counter()
    for req in reqs:
        t = time.perf_counter_ns()
        decision = evaluate(req, compiled)
        samples.append((time.perf_counter_ns() - t) / 1000)
        outcomes[decision.decision] = outcomes.get(decision.decision, 0) + 1
    total = time.perf_counter() - total_start
    # Explaining, measured apart so that the figures above are those of deciding alone.
    denied: list[tuple[Request, Decision]] = []
    for req in reqs:
        decision = evaluate(req, compiled)
        if not decision.allowed:
            denied.append((req, decision))
            if len(denied) >= 5000:
                break
    explaining: list[float] = []
    nothing = ResourcePolicies()
    for req, decision in denied:
        t = time.perf_counter_ns()
        explain(req, compiled, nothing, decision)
        explaining.append((time.perf_counter_ns() - t) / 1000)
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(
        f"{count:>5} statements: median {statistics.median(samples):6.2f} µs  p99 {p99:6.2f} µs  "
        f"{decisions / total:>9,.0f} decisions/s  (compile {compile_s * 1000:.1f} ms once; "
        f"first decision per action median {statistics.median(cold):.1f} µs)  {outcomes}"
    )
    if explaining:
        print(
            f"{'':>18}explaining a denial (only denials pay it): median "
            f"{statistics.median(explaining):6.2f} µs over {len(explaining)} denials"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=50_000)
    args = parser.parse_args()
    for count in (5, 1000):
        run(count, args.decisions)


if __name__ == "__main__":
    main()
