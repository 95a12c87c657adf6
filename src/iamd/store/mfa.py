"""MFA devices: virtual (TOTP, seed encrypted under the KEK), WebAuthn/FIDO and hardware.

A device is created unassigned (CreateVirtualMFADevice) and then enabled for a user or for the
account's root user (EnableMFADevice), or created already enabled (WebAuthn registration).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import or_, select, update

from iamd.store.base import Repository, found
from iamd.store.errors import AlreadyExists, Conflict
from iamd.store.paging import paginate
from iamd.store.records import MfaDeviceRecord, MfaKind, Page
from iamd.store.schema import MfaDevice, User

PURPOSE = "totp-seed"

Assignment = Literal["Assigned", "Unassigned", "Any"]


class MfaDevices(Repository):
    def create(
        self,
        account_id: str,
        *,
        serial: str,
        kind: MfaKind,
        created_at: datetime,
        seed: bytes | None = None,
        credential_id: bytes | None = None,
        public_key: bytes | None = None,
        sign_count: int | None = None,
    ) -> MfaDeviceRecord:
        """A new unassigned device. A virtual device's TOTP `seed` is stored encrypted."""
        self._uow.changed(account_id)
        if self._row(account_id, serial) is not None:
            raise AlreadyExists(f"MFA device {serial} already exists")
        row = MfaDevice(
            account_id=account_id,
            serial=serial,
            kind=kind,
            is_root=False,
            created_at=created_at,
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
        )
        self._session.add(row)
        self._session.flush()  # assigns row.id, which the seed's ciphertext is bound to
        if seed is not None:
            row.seed_ciphertext = self._uow.kek.encrypt(seed, purpose=PURPOSE, row_id=str(row.id))
            self._session.flush()
        return self._records([row])[0]

    def find(self, account_id: str, serial: str) -> MfaDeviceRecord | None:
        row = self._row(account_id, serial)
        return None if row is None else self._records([row])[0]

    def get(self, account_id: str, serial: str) -> MfaDeviceRecord:
        return found(self.find(account_id, serial), f"MFA device {serial}")

    def list_for(self, account_id: str, user_id: str | None) -> tuple[MfaDeviceRecord, ...]:
        """Devices enabled for a user, or for the root user when `user_id` is None."""
        owner = MfaDevice.is_root if user_id is None else MfaDevice.user_id == user_id
        rows = self._session.scalars(
            select(MfaDevice)
            .where(MfaDevice.account_id == account_id, owner, MfaDevice.enabled_at.is_not(None))
            .order_by(MfaDevice.enabled_at, MfaDevice.id)
        ).all()
        return self._records(rows)

    def list_virtual(
        self,
        account_id: str,
        *,
        assignment: Assignment = "Any",
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[MfaDeviceRecord]:
        """ListVirtualMFADevices, by serial number."""
        stmt = select(MfaDevice).where(MfaDevice.account_id == account_id, MfaDevice.kind == "virtual")
        if assignment == "Assigned":
            stmt = stmt.where(MfaDevice.enabled_at.is_not(None))
        elif assignment == "Unassigned":
            stmt = stmt.where(MfaDevice.enabled_at.is_(None))
        rows, next_marker = paginate(self._session, stmt, (MfaDevice.serial,), marker, max_items)
        return Page(self._records(rows), next_marker)

    def enable(self, device_id: int, *, user_id: str | None, enabled_at: datetime) -> None:
        """Assign to a user, or to the root user when `user_id` is None; Conflict if already assigned."""
        row = self._writable_row(device_id)
        if row.enabled_at is not None:
            raise Conflict(f"MFA device {row.serial} is already in use")
        row.user_id, row.is_root, row.enabled_at = user_id, user_id is None, enabled_at
        self._session.flush()

    def deactivate(self, device_id: int) -> None:
        """Unassign (DeactivateMFADevice). A virtual device stays, unassigned; others are deleted."""
        row = self._writable_row(device_id)
        if row.kind != "virtual":
            self._uow.tags.delete_all(row.account_id, "mfa", str(row.id))
            self._session.delete(row)
        else:
            row.user_id, row.is_root, row.enabled_at, row.last_totp_counter = None, False, None, None
        self._session.flush()

    def delete(self, device_id: int) -> None:
        """Delete a device; Conflict while it is assigned (deactivate it first)."""
        row = self._writable_row(device_id)
        if row.enabled_at is not None:
            raise Conflict(f"MFA device {row.serial} is in use; deactivate it first")
        self._uow.tags.delete_all(row.account_id, "mfa", str(row.id))
        self._session.delete(row)
        self._session.flush()

    def totp_seed(self, device_id: int) -> bytes:
        row = found(self._session.get(MfaDevice, device_id), f"MFA device {device_id}")
        if row.seed_ciphertext is None:
            raise Conflict(f"MFA device {row.serial} has no TOTP seed")
        return self._uow.kek.decrypt(row.seed_ciphertext, purpose=PURPOSE, row_id=str(row.id))

    def accept_totp_counter(self, device_id: int, counter: int) -> bool:
        """Record that the code for time step `counter` was used, once: False if that step (or a
        later one) was already used, so a code cannot be replayed."""
        self._uow.writable()
        result = self._session.execute(
            update(MfaDevice)
            .where(
                MfaDevice.id == device_id,
                or_(MfaDevice.last_totp_counter.is_(None), MfaDevice.last_totp_counter < counter),
            )
            .values(last_totp_counter=counter)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def update_sign_count(self, device_id: int, sign_count: int) -> None:
        """Store a WebAuthn authenticator's signature counter after a successful assertion."""
        self._uow.writable()
        self._session.execute(
            update(MfaDevice).where(MfaDevice.id == device_id).values(sign_count=sign_count)
        )

    def _writable_row(self, device_id: int) -> MfaDevice:
        row = found(self._session.get(MfaDevice, device_id), f"MFA device {device_id}")
        self._uow.changed(row.account_id)
        return row

    def _row(self, account_id: str, serial: str) -> MfaDevice | None:
        return self._session.scalar(
            select(MfaDevice).where(MfaDevice.account_id == account_id, MfaDevice.serial == serial)
        )

    def _records(self, rows: Sequence[MfaDevice]) -> tuple[MfaDeviceRecord, ...]:
        user_ids = {r.user_id for r in rows if r.user_id}
        names = (
            {
                uid: name
                for uid, name in self._session.execute(
                    select(User.id, User.name).where(User.id.in_(user_ids))
                )
            }
            if user_ids
            else {}
        )
        return tuple(
            MfaDeviceRecord(
                r.id,
                r.account_id,
                r.serial,
                cast(MfaKind, r.kind),
                r.user_id,
                names.get(r.user_id) if r.user_id else None,
                r.is_root,
                r.created_at,
                r.enabled_at,
                r.last_totp_counter,
                r.credential_id,
                r.public_key,
                r.sign_count,
            )
            for r in rows
        )
