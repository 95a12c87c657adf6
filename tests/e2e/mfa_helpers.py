"""Helpers for the MFA, console and root tests: virtual MFA devices whose codes pyotp computes,
and the AWS documented self-service policy that requires MFA."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pyotp

STEP = 30

# "AWS: Allows MFA-authenticated IAM users to manage their own credentials on the Security
# credentials page" (IAM User Guide, reference_policies_examples_aws_my-sec-creds-self-manage).
SELF_MANAGE_WITH_MFA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowViewAccountInfo",
                "Effect": "Allow",
                "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
                "Resource": "*",
            },
            {
                "Sid": "AllowManageOwnPasswords",
                "Effect": "Allow",
                "Action": ["iam:ChangePassword", "iam:GetUser"],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Sid": "AllowManageOwnAccessKeys",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateAccessKey",
                    "iam:DeleteAccessKey",
                    "iam:ListAccessKeys",
                    "iam:UpdateAccessKey",
                    "iam:GetAccessKeyLastUsed",
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Sid": "AllowManageOwnSigningCertificates",
                "Effect": "Allow",
                "Action": [
                    "iam:DeleteSigningCertificate",
                    "iam:ListSigningCertificates",
                    "iam:UpdateSigningCertificate",
                    "iam:UploadSigningCertificate",
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Sid": "AllowManageOwnSSHPublicKeys",
                "Effect": "Allow",
                "Action": [
                    "iam:DeleteSSHPublicKey",
                    "iam:GetSSHPublicKey",
                    "iam:ListSSHPublicKeys",
                    "iam:UpdateSSHPublicKey",
                    "iam:UploadSSHPublicKey",
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Sid": "AllowManageOwnGitCredentials",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateServiceSpecificCredential",
                    "iam:DeleteServiceSpecificCredential",
                    "iam:ListServiceSpecificCredentials",
                    "iam:ResetServiceSpecificCredential",
                    "iam:UpdateServiceSpecificCredential",
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Sid": "AllowManageOwnVirtualMFADevice",
                "Effect": "Allow",
                "Action": ["iam:CreateVirtualMFADevice"],
                "Resource": "arn:aws:iam::*:mfa/*",
            },
            {
                "Sid": "AllowManageOwnUserMFA",
                "Effect": "Allow",
                "Action": [
                    "iam:DeactivateMFADevice",
                    "iam:EnableMFADevice",
                    "iam:GetMFADevice",
                    "iam:ListMFADevices",
                    "iam:ResyncMFADevice",
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Sid": "DenyAllExceptListedIfNoMFA",
                "Effect": "Deny",
                "NotAction": [
                    "iam:CreateVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:GetUser",
                    "iam:GetMFADevice",
                    "iam:ListMFADevices",
                    "iam:ListVirtualMFADevices",
                    "iam:ResyncMFADevice",
                    "sts:GetSessionToken",
                ],
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
        ],
    }
)


@dataclass
class Device:
    serial: str
    seed: str
    clock_offset: float = 0.0
    """Seconds the server's clock is ahead of this machine's (``iamd serve --clock-offset``)."""

    @property
    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(self.seed)

    def code(self, steps: int = 0) -> str:
        """The code of the time step ``steps`` away from the server's current one."""
        return self.totp.at(time.time() + self.clock_offset + steps * STEP)

    def pair(self) -> tuple[str, str]:
        """Two consecutive codes, the second of the current step (what EnableMFADevice takes)."""
        return self.code(-1), self.code(0)

    def fresh(self) -> str:
        """A code of a step no code of this device was accepted for yet (the next step): codes
        are accepted once, and enabling used the current one."""
        return self.code(1)


def create_device(iam: Any, name: str, clock_offset: float = 0.0, **extra: Any) -> Device:
    answer = iam.create_virtual_mfa_device(VirtualMFADeviceName=name, **extra)["VirtualMFADevice"]
    return Device(answer["SerialNumber"], answer["Base32StringSeed"].decode("ascii"), clock_offset)


def enable_device(iam: Any, user: str, name: str, clock_offset: float = 0.0) -> Device:
    """A new virtual device, enabled for ``user``."""
    device = create_device(iam, name, clock_offset)
    first, second = device.pair()
    iam.enable_mfa_device(
        UserName=user, SerialNumber=device.serial, AuthenticationCode1=first, AuthenticationCode2=second
    )
    return device


def wait_for_next_step() -> None:
    """Sleep until the next TOTP step begins (to use a device more than twice in a row)."""
    time.sleep(STEP - time.time() % STEP + 0.05)


@contextmanager
def signing_clock(offset: float) -> Iterator[None]:
    """boto3 signs with the clock moved by ``offset`` seconds, as a server run with
    ``--clock-offset`` expects (SigV4 refuses a skew over 15 minutes)."""
    from datetime import timedelta

    import botocore.auth
    from botocore.compat import get_current_datetime

    shift = timedelta(seconds=offset)
    with mock.patch.object(
        botocore.auth, "get_current_datetime", lambda **kw: get_current_datetime(**kw) + shift
    ):
        yield
