"""
TwilioVoiceSender: codes read out in a phone call, through Twilio's Calls API.

The call says the verification's script (the code digit by digit) twice, with a pause between,
in the language of the verification's locale (TwiML ``<Say>``, built with Twilio's own library).
"""

from __future__ import annotations

from typing import Any, Final

from twilio.twiml.voice_response import VoiceResponse

from otp_service.core.models import OutboundMessage, Receipt
from otp_service.delivery.twilio_sms import created_by_twilio, status_callback_url

#: The ``language`` of ``<Say>`` for each locale with a voice script.
LANGUAGES: Final = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "pt": "pt-BR"}


def twiml(message: OutboundMessage) -> str:
    """The TwiML of the call: the script, a pause, the script again."""
    language = LANGUAGES.get(message.locale, LANGUAGES["en"])
    response = VoiceResponse()
    response.say(message.text, language=language)
    response.pause(length=1)
    response.say(message.text, language=language)
    return str(response)


class TwilioVoiceSender:
    """
    Calls the number and reads the code.

    Args:
        client: a ``twilio.rest.Client`` (see ``twilio_client``).
        from_: the calling number (E.164).
        public_base_url: the service's public URL; when set, calls carry a status callback.
    """

    provider = "twilio"

    def __init__(self, client: Any, *, from_: str, public_base_url: str = "") -> None:
        if not from_:
            raise ValueError("a calling number is required")
        self._client = client
        self._from = from_
        self._public_base_url = public_base_url

    def send(self, message: OutboundMessage) -> Receipt:
        """
        Place the call.

        Raises:
            InvalidDestination: the number cannot be called.
            DeliveryFailed: Twilio refused the call or failed.
        """
        options: dict[str, str] = {"from_": self._from, "twiml": twiml(message)}
        if self._public_base_url:
            options["status_callback"] = status_callback_url(
                self._public_base_url, message.verification_id
            )
        created = created_by_twilio(
            message.to, lambda: self._client.calls.create(to=message.to, **options)
        )
        return Receipt(self.provider, str(created.sid), str(created.status or "queued"))
