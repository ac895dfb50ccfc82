"""
StartScripts: a new start in two scripts on one Redis (standalone or Sentinel): one admits it
(every limit, the lockout, the destination index and the pumping guard), the other creates it
(every limit tested again and counted, the hash written, the index claimed). A refused start
counts nothing; an admitted one costs two round trips before its delivery.

The scripts include the functions of the capabilities whose keys they touch: ``admission`` of the
abuse guard and ``fraud_admit`` of the pumping guard. Their keys lie in several Cluster slots, so
on a Redis Cluster the start takes the step-by-step path of ``Starts`` instead.
"""

from __future__ import annotations

from typing import Any, Final

from otp_service.abuse import Admission, admission_lua
from otp_service.core.models import Verification
from otp_service.fraud import fraud_admit_lua
from otp_service.storage.script_store import ScriptStore, lua_function, lua_source
from otp_service.storage.scripts import MalformedReply, is_cluster
from otp_service.verify.records import creation_args, fields_lua
from otp_service.verify.store import index_value

_REPLIES: Final = ("ok", "pending", "limited", "lost", "created")
#: What ``resend`` answers, which ``resend_counted`` passes on.
_RESEND_REPLIES: Final = ("ok", "missing", "locked", "max_sends", "cooldown", "limited")


def _lua(name: str) -> str:
    return lua_source("otp_service.verify", name)


def _resend_reply(reply: Any) -> list[Any]:
    if not isinstance(reply, list) or not reply or reply[0] not in _RESEND_REPLIES:
        raise MalformedReply("expected a resend_counted reply")
    return reply


def _reply(reply: Any) -> list[Any]:
    if not isinstance(reply, list) or not reply or reply[0] not in _REPLIES:
        raise MalformedReply("expected a start script's reply")
    return reply


class StartScripts(ScriptStore):
    """The scripts of a new start; make it with ``RedisStore.beside(StartScripts)``."""

    SCRIPT_PACKAGE = "otp_service.verify"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.usable = not is_cluster(self.client)
        register = self.client.register_script  # no I/O, on a Cluster too
        self._scripts.update(
            start_admit=register(admission_lua() + fraud_admit_lua() + _lua("start_admit")),
            start_create=register(admission_lua() + _lua("new_record") + _lua("start_create")),
            resend_counted=register(
                admission_lua()
                + fields_lua()
                + lua_function("otp_service.verify", "resend")
                + _lua("resend_counted")
            ),
        )

    def admit(
        self, destination_key: str, admission: Admission, *, resend: bool = False
    ) -> list[Any]:
        """
        Test a new start's limits; unless one refuses or the destination has a pending
        verification, count the send with the pumping guard. The raw reply, which
        ``StartAdmission.admitted`` reads (or ``['pending', id]``). With ``resend``, the same
        for the resend of the pending verification (the index is not read).

        Raises:
            StoreUnavailable: Redis failed.
        """
        fraud_keys = admission.fraud.keys if admission.fraud else []
        fraud_args = admission.fraud.args if admission.fraud else []
        counts = [len(admission.keys), len(admission.args), len(fraud_keys), len(fraud_args)]
        keys = [destination_key, *admission.keys, *fraud_keys]
        args = [*counts, "resend" if resend else "", *admission.args, *fraud_args]
        return self._run("start_admit", keys, args, _reply)

    def create(
        self,
        verification: Verification,
        code_hash: str,
        keys: tuple[str, str],
        admission: Admission,
        *,
        key_ttl_ms: int,
    ) -> list[Any]:
        """
        Count the start's limits, store the verification and point the destination at it;
        ``['created']``, ``['lost']`` (another start claimed the destination) or a refusal.
        ``keys``: the verification's hash and the destination index.

        Raises:
            StoreUnavailable: Redis failed.
        """
        index_ttl_ms = verification.expires_ms - verification.created_ms
        args: list[Any] = [len(admission.keys), len(admission.args), key_ttl_ms, index_ttl_ms]
        args += [index_value(verification.id), self._clock_mode(), *admission.args]
        args += creation_args(verification, code_hash)
        return self._run("start_create", [*keys, *admission.keys], args, _reply)

    def resend(
        self,
        verification_id: str,
        keys: tuple[str, str],
        admission: Admission,
        resend_args: list[Any],
        *,
        index_ttl_ms: int,
    ) -> list[Any]:
        """
        Count the resend's limits and run ``resend`` with ``resend_args``, all or nothing; its
        reply, or a refusal. ``keys``: the verification's hash and the destination index.

        Raises:
            StoreUnavailable: Redis failed.
        """
        args: list[Any] = [len(admission.keys), len(admission.args), index_value(verification_id)]
        args += [index_ttl_ms, verification_id, *resend_args, *admission.args]
        return self._run("resend_counted", [*keys, *admission.keys], args, _resend_reply)
