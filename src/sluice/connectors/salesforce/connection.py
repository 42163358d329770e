"""The one place sluice talks to Salesforce: the OAuth login, the client, and its errors.

Every error becomes a TransientError (the network, a busy org, the API's rate limit: trying
again later may pass) or a TerminalError (a refused login, an object or field that does not
exist, a query Salesforce refuses), naming the org and never a secret.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sluice.connectors.salesforce.config import SalesforceCreds
from sluice.core.errors import StageError, TerminalError, TransientError
from sluice.core.redact import scrub

if TYPE_CHECKING:
    from simple_salesforce.api import Salesforce

# Seconds for one HTTP request (a Bulk job is polled until it ends).
REQUEST_TIMEOUT = 60
# Salesforce's error codes after which the same request may pass later.
_TRANSIENT = frozenset(
    {"REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW", "QUERY_TIMEOUT",
     "TXN_SECURITY_METERING_ERROR", "API_CURRENTLY_DISABLED"}
)  # fmt: skip


def connect(creds: SalesforceCreds) -> Salesforce:
    """A client on the org with a fresh session (JSON numbers as exact Decimals)."""
    import requests
    from simple_salesforce.api import Salesforce

    session = requests.Session()
    token, instance_url = _login(creds, session)
    return Salesforce(
        session_id=token,
        instance_url=instance_url,
        version=creds.api_version,
        session=session,
        parse_float=Decimal,
    )


def _login(creds: SalesforceCreds, session: Any) -> tuple[str, str]:
    if creds.access_token is not None:
        return creds.access_token.get_secret_value(), creds.instance_url
    form: dict[str, str] = {"client_id": str(creds.client_id)}
    flow = creds.flow()
    if flow == "JWT bearer":
        form.update(
            grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=_assertion(creds)
        )
    else:
        assert creds.client_secret is not None
        form["client_secret"] = creds.client_secret.get_secret_value()
        if flow == "password":
            assert creds.password is not None
            token = creds.security_token.get_secret_value() if creds.security_token else ""
            form.update(
                grant_type="password",
                username=str(creds.username),
                password=creds.password.get_secret_value() + token,
            )
        else:
            form["grant_type"] = "client_credentials"
    import requests

    where = f"Salesforce {creds.location()}"
    try:
        answer = session.post(
            f"{creds.instance_url}/services/oauth2/token", data=form, timeout=REQUEST_TIMEOUT
        )
    except requests.RequestException as exc:
        raise TransientError(f"{where} did not answer: {_text(exc, creds)}") from None
    body = _json(answer)
    if answer.status_code != 200 or "access_token" not in body:
        reason = body.get("error_description") or body.get("error") or f"HTTP {answer.status_code}"
        raise TerminalError(
            f"{where} refused the {flow} login: {_text(reason, creds)}; check the connected "
            "app's client_id and secret (or key), and the user's access"
        )
    return str(body["access_token"]), str(body.get("instance_url") or creds.instance_url)


def _assertion(creds: SalesforceCreds) -> str:
    import jwt

    assert creds.private_key is not None
    claims = {"iss": creds.client_id, "sub": creds.username, "aud": creds.audience,
              "exp": int(time.time()) + 180}  # fmt: skip
    try:
        return str(jwt.encode(claims, creds.private_key.get_secret_value(), algorithm="RS256"))
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise TerminalError(
            f"Salesforce creds for {creds.location()}: 'private_key' cannot sign ({exc}); give "
            "the connected app's RSA key in PEM form"
        ) from None


def _json(answer: Any) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _text(value: object, creds: SalesforceCreds) -> str:
    return scrub(" ".join(str(value).split()), creds.secret_values())


def translate(exc: Exception, creds: SalesforceCreds) -> StageError:
    """A network error as sluice's own: one line, the org named, no secret."""
    if isinstance(exc, StageError):
        return exc
    return TransientError(f"Salesforce {creds.location()} did not answer: {_text(exc, creds)}")


def failure(answer: Any, creds: SalesforceCreds) -> StageError:
    """An error answer (Salesforce's [{"errorCode", "message"}] body) as sluice's own."""
    where = f"Salesforce {creds.location()}"
    try:
        body = answer.json()
    except ValueError:
        body = None
    errors = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    codes = {str(e.get("errorCode")) for e in errors if isinstance(e, dict)}
    messages = "; ".join(
        f"{e.get('errorCode')}: {e.get('message')}" for e in errors if isinstance(e, dict)
    )
    text = _text(messages or f"HTTP {answer.status_code}", creds)
    if "REQUEST_LIMIT_EXCEEDED" in codes:
        return TransientError(
            f"{where}: the org's API request limit is used up ({text}); the run is retried, "
            "and the limit frees up over 24 hours (Setup > System Overview shows it)"
        )
    if codes & _TRANSIENT or answer.status_code in (429, 500, 502, 503, 504):
        return TransientError(f"{where}: {text}")
    if answer.status_code == 401:
        return TerminalError(
            f"{where} refused the session: {text}; check the login in the creds (an "
            "access_token expires: give a connected app's login instead)"
        )
    if answer.status_code == 404:
        return TerminalError(f"{where}: not found: {text}")
    return TerminalError(f"{where}: {text}")
