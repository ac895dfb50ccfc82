"""
Messages people receive: SMS and email bodies rendered from per-locale Jinja2 templates.

Templates live in ``otp_service/verify/templates/messages/<locale>/``; which locale a verification
gets is ``locales.resolve_locale``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import jinja2

from otp_service.core.models import Channel, OutboundMessage, Policy
from otp_service.core.transactions import Transaction


@cache
def _environment() -> jinja2.Environment:
    root = resources.files("otp_service.verify") / "templates" / "messages"
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )


def _render(locale: str, name: str, **context: object) -> str:
    return _environment().get_template(f"{locale}/{name}").render(**context).strip()


def _voice_script(locale: str, **context: object) -> tuple[str, str]:
    """What a call says (the code digit by digit), and its locale: English where none is written."""
    spoken = ", ".join(str(context["code"]))
    try:
        return _render(locale, "voice.txt", spoken_code=spoken, **context), locale
    except jinja2.TemplateNotFound:
        return _render("en", "voice.txt", spoken_code=spoken, **context), "en"


def _transaction_line(locale: str, transaction: Transaction | None) -> str | None:
    if transaction is None:
        return None
    return _render(locale, "transaction.txt", amount=transaction.amount, payee=transaction.payee)


def render_message(
    *,
    channel: Channel,
    to: str,
    code: str,
    verification_id: str,
    policy: Policy,
    locale: str,
    transaction: Transaction | None = None,
) -> OutboundMessage:
    """
    The message that carries ``code`` to ``to`` in ``locale``, naming the amount and payee of
    the ``transaction`` it authorises (PSD2 dynamic linking), if any.
    """
    context = {
        "code": code,
        "brand": policy.brand_name,
        "minutes": max(policy.code_ttl_seconds // 60, 1),
        "domain": policy.webotp_domain,
        "transaction": _transaction_line(locale, transaction),
    }
    if channel is Channel.VOICE:
        script, spoken_in = _voice_script(locale, **context)
        if transaction is not None:  # said in the script's language
            script = f"{script} {_transaction_line(spoken_in, transaction)}"
        return OutboundMessage(channel, to, script, verification_id, locale=spoken_in)
    if channel is Channel.WHATSAPP:
        # WhatsApp takes only an approved authentication template, the code its one variable; the
        # text is what the dev outbox shows.
        text = _render(locale, "sms.txt", **context)
        variables = {"1": code}
        return OutboundMessage(
            channel, to, text, verification_id, locale=locale, template_variables=variables
        )
    if channel is Channel.SMS:
        text = _render(locale, "sms.txt", **context)
        if context["transaction"]:
            text = f"{text}\n{context['transaction']}"
        if policy.webotp_domain:
            # WebOTP origin-bound line: lets browsers and phones fill the code in by themselves.
            text = f"{text}\n\n@{policy.webotp_domain} #{code}"
        return OutboundMessage(channel, to, text, verification_id, locale=locale)
    return OutboundMessage(
        channel,
        to,
        _render(locale, "email.txt", **context),
        verification_id,
        subject=_render(locale, "email_subject.txt", **context),
        html=_render(locale, "email.html", **context),
        locale=locale,
    )
