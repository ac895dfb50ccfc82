"""
TwilioSmsSender: SMS through Twilio's Messages API; the Twilio client and its errors, shared by
the WhatsApp and voice senders (the ``twilio_*`` modules are the only ones importing ``twilio``).

The ``twilio`` client is built by ``twilio_client`` with an explicit timeout (it has none by
default) and handed to the sender, which turns every failure into ``DeliveryFailed`` or
``InvalidDestination``. Twilio does not wrap network errors: they arrive as ``requests``
exceptions, and are retryable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from otp_service.core.errors import DeliveryFailed, InvalidDestination
from otp_service.core.models import OutboundMessage, Receipt, mask_destination

logger = logging.getLogger("otp_service.delivery.twilio")

STATUS_CALLBACK_PATH: Final = "/v1/webhooks/twilio/status"

#: Twilio error codes that say the destination itself cannot take the message (422).
#: https://www.twilio.com/docs/api/errors
DESTINATION_ERRORS: Final[Mapping[int, str]] = {
    21211: "The phone number is not valid.",
    21217: "The phone number is not valid.",
    21265: "The phone number cannot receive messages from this service.",
    21407: "The phone number cannot receive SMS.",
    21408: "SMS to this country is not enabled.",
    21421: "The phone number is not valid.",
    21610: "The recipient has unsubscribed from messages of this service.",
    21612: "The phone number cannot be reached by SMS.",
    21614: "The phone number cannot receive SMS (not a mobile number).",
    21635: "The phone number cannot receive SMS (a landline).",
    63003: "The phone number has no WhatsApp account.",
    13224: "The phone number cannot be called.",
    21215: "Calls to this country are not enabled.",
}
#: Twilio error codes that say this service's WhatsApp sender or template is wrong (502, for good).
SENDER_ERRORS: Final[Mapping[int, str]] = {
    63016: "WhatsApp refused a free-form message: an approved authentication template is needed.",
    63024: "WhatsApp refused the message template.",
    63027: "WhatsApp refused the message template.",
    21656: "The WhatsApp template's variables are not valid.",
    63007: "The WhatsApp sender is not set up on this Twilio account.",
}
#: Twilio keeps an undelivered message queued for at most this long (and by default this long).
MAX_VALIDITY_SECONDS: Final = 36_000
#: Twilio's "too many requests" code, sometimes sent with a status other than 429.
TOO_MANY_REQUESTS: Final = 20429

#: The ``twilio`` client reads TWILIO_* variables when a value is missing; settings are the
#: only source of configuration here, so it gets this (non-empty, hence used) mapping instead.
_NO_ENVIRONMENT: Final = {"OTP_SERVICE": "configured from OTP_* settings only"}


class TwilioSettings(Protocol):
    """The settings ``twilio_client`` reads (``Settings`` has them)."""

    @property
    def twilio_account_sid(self) -> str: ...

    @property
    def twilio_auth_token(self) -> str: ...

    @property
    def twilio_api_base(self) -> str: ...

    @property
    def delivery_timeout_seconds(self) -> float: ...


class _RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """Sends every request to ``api_base`` (a regional edge or a test double), path kept."""

    def __init__(self, api_base: str, timeout_seconds: float) -> None:
        super().__init__(timeout=timeout_seconds)
        self._base = urlsplit(api_base.rstrip("/"))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        """Rewrite the scheme and host of ``url``, then send it as Twilio's client would."""
        parts = urlsplit(url)
        rebased = parts._replace(
            scheme=self._base.scheme,
            netloc=self._base.netloc,
            path=self._base.path + parts.path,
        )
        return super().request(method, urlunsplit(rebased), *args, **kwargs)


def twilio_client(settings: TwilioSettings) -> Any:
    """
    A ``twilio.rest.Client`` with an explicit timeout, aimed at ``OTP_TWILIO_API_BASE`` if set.

    The timeout applies to connecting and to each read (``requests`` semantics).
    """
    # Twilio's HTTP client logs whole requests at INFO, and a request body carries the code.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    timeout = settings.delivery_timeout_seconds
    http_client = (
        _RebasedHttpClient(settings.twilio_api_base, timeout)
        if settings.twilio_api_base
        else TwilioHttpClient(timeout=timeout)
    )
    return Client(
        settings.twilio_account_sid or None,
        settings.twilio_auth_token or None,
        http_client=http_client,
        environment=_NO_ENVIRONMENT,
    )


def signature_is_valid(
    auth_token: str, url: str, params: Mapping[str, str], signature: str
) -> bool:
    """
    Whether ``signature`` (``X-Twilio-Signature``) is Twilio's for ``url`` and form ``params``.

    ``url`` is the full public URL Twilio requested, query included; a multi-dict (Werkzeug's
    ``request.form``) is read with all its values, as Twilio signs them.
    """
    if not (auth_token and signature):
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))


def status_callback_url(public_base_url: str, verification_id: str) -> str:
    """The URL Twilio reports delivery statuses of one verification's message to."""
    return (
        f"{public_base_url.rstrip('/')}{STATUS_CALLBACK_PATH}"
        f"?verification_id={quote(verification_id, safe='')}"
    )


class TwilioSmsSender:
    """
    Sends SMS with Twilio's Messages API, from a number or through a Messaging Service.

    Args:
        client: a ``twilio.rest.Client`` (see ``twilio_client``).
        from_: the sending number (E.164), used when there is no Messaging Service.
        messaging_service_sid: the Messaging Service to send through (preferred when set).
        public_base_url: the service's public URL; when set, messages carry a status callback.
    """

    provider = "twilio"

    def __init__(
        self,
        client: Any,
        *,
        from_: str = "",
        messaging_service_sid: str = "",
        public_base_url: str = "",
    ) -> None:
        if not (from_ or messaging_service_sid):
            raise ValueError("a sending number or a Messaging Service SID is required")
        self._client = client
        self._sender = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_}
        )
        self._public_base_url = public_base_url

    def send(self, message: OutboundMessage) -> Receipt:
        """
        Hand ``message`` to Twilio.

        Raises:
            InvalidDestination: Twilio says the number cannot receive it (invalid, landline,
                unsubscribed, country not enabled).
            DeliveryFailed: any other refusal (retryable for 429 and 5xx), a network error or a
                timeout (retryable).
        """
        options: dict[str, str | int] = dict(self._sender)
        if message.valid_seconds is not None:
            # Dropped, not delivered (and billed) after the code died: Twilio's default is 10 h.
            options["validity_period"] = min(max(message.valid_seconds, 1), MAX_VALIDITY_SECONDS)
        if self._public_base_url:
            options["status_callback"] = status_callback_url(
                self._public_base_url, message.verification_id
            )
        created = created_by_twilio(
            message.to,
            lambda: self._client.messages.create(to=message.to, body=message.text, **options),
        )
        return Receipt(self.provider, str(created.sid), str(created.status or "queued"))

    def close(self) -> None:
        """Close the pooled HTTP connections of the client."""
        session = getattr(self._client.http_client, "session", None)
        if session is not None:
            session.close()


def created_by_twilio(to: str, create: Callable[[], Any]) -> Any:
    """
    What one ``create`` call of the Twilio client made (a message, a call).

    Raises:
        InvalidDestination: Twilio says ``to`` cannot receive it.
        DeliveryFailed: any other refusal (retryable for 429 and 5xx), a network error or a
            timeout (retryable), or an answer that is not Twilio's.
    """
    try:
        return create()
    except (TwilioRestException, TwilioServiceException) as error:
        raise _refusal(error, to) from error
    except requests.RequestException as error:
        logger.warning("Twilio could not be reached: %s", type(error).__name__)
        raise DeliveryFailed("The provider could not be reached.", retryable=True) from error
    except (TwilioException, ValueError) as error:
        # An answer that is not a Message (e.g. a proxy's HTML page with status 200).
        logger.warning("Twilio answered something unexpected: %s", type(error).__name__)
        raise DeliveryFailed("The provider gave an unexpected answer.", retryable=True) from error


def _refusal(
    error: TwilioRestException | TwilioServiceException, to: str
) -> InvalidDestination | DeliveryFailed:
    status = int(error.status or 0)
    code = int(error.code or 0)
    vendor_message = str(getattr(error, "msg", None) or getattr(error, "detail", None) or "")
    # The vendor's words go to the log (destination masked), never to the caller. Status and
    # code travel as fields: the redaction filter blanks digit runs in the message text.
    logger.warning(
        "Twilio refused the message: %s",
        vendor_message.replace(to, mask_destination(to)),
        extra={"twilio_status": status, "twilio_code": code},
    )
    if code in DESTINATION_ERRORS:
        return InvalidDestination(DESTINATION_ERRORS[code])
    if code in SENDER_ERRORS:
        return DeliveryFailed(SENDER_ERRORS[code], retryable=False)
    retryable = status == 429 or status >= 500 or code == TOO_MANY_REQUESTS
    detail = (
        "The provider is unavailable or busy; try again later."
        if retryable
        else "The provider refused the message."
    )
    return DeliveryFailed(detail, retryable=retryable)


def fetch_account_status(settings: TwilioSettings) -> str:
    """
    One authenticated, read-only request: the status of the configured account (e.g. ``active``).

    Raises:
        DeliveryFailed: Twilio refused it (its status and message) or was not reached.
    """
    client = twilio_client(settings)
    try:
        account = client.api.v2010.accounts(settings.twilio_account_sid).fetch()
    except TwilioRestException as error:
        raise DeliveryFailed(f"HTTP {error.status}: {error.msg}", retryable=False) from error
    except (TwilioException, requests.RequestException) as error:
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        raise DeliveryFailed(reason, retryable=True) from error
    return str(account.status)
