"""Salesforce's stand-in: a local HTTPS server (its certificate from a test CA made by trustme,
trusted through REQUESTS_CA_BUNDLE) speaking the REST endpoints the source uses, with
responses in Salesforce's shapes:

    POST /services/oauth2/token                 client credentials, password, JWT bearer
    GET  /services/data/vNN.0/limits/           DailyApiRequests
    GET  .../sobjects/  and  .../sobjects/X/describe/
    GET  .../query/?q=  and  .../queryAll/?q=   SELECT fields | COUNT() FROM X
                                                [WHERE F >= literal]; pages of `page_size`
                                                records followed by nextRecordsUrl
    POST .../jobs/query, GET .../jobs/query/ID, GET .../jobs/query/ID/results
                                                Bulk API 2.0: a job InProgress once, then
                                                JobComplete; CSV pages by maxRecords with
                                                Sforce-Locator / Sforce-NumberOfRecords

and Salesforce's errors: [{"errorCode", "message"}] bodies (INVALID_SESSION_ID,
INVALID_FIELD, NOT_FOUND, REQUEST_LIMIT_EXCEEDED once `requests_left` runs out) and OAuth's
{"error", "error_description"}. The source runs its production code path against it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

VERSION = "61.0"
CLIENT_ID, CLIENT_SECRET = "3MVG9-fake-client", "sf-secret-7Qx"
USERNAME, PASSWORD, TOKEN = "loader@acme.test", "pw-4kd", "tok-9Zs"
_SOQL = re.compile(
    r"^SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)"
    r"(?:\s+WHERE\s+(?P<key>\w+)\s*>=\s*(?P<bound>\S+))?\s*$",
    re.IGNORECASE,
)


@dataclass
class SObject:
    fields: list[dict[str, Any]]  # describe()'s field entries
    records: list[dict[str, Any]] = field(default_factory=list)  # Python values


@dataclass
class Org:
    objects: dict[str, SObject] = field(default_factory=dict)
    page_size: int = 2000
    requests_left: int = 15_000
    jwt_public_key: str | None = None
    tokens: set[str] = field(default_factory=set)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)


class FakeSalesforce:
    """The server, on a free port of 127.0.0.1, until stopped."""

    def __init__(self, folder: Path) -> None:
        import trustme

        self.org = Org()
        authority = trustme.CA()
        self.ca_bundle = folder / "sf-ca.pem"
        authority.cert_pem.write_to_path(str(self.ca_bundle))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(context)
        org = self.org
        self.url = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(org, lambda: self.url))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def creds(self, **extra: Any) -> dict[str, Any]:
        return {"instance_url": self.url, "api_version": VERSION, "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, **extra}  # fmt: skip


def _handler(org: Org, base: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = body if isinstance(body, bytes) else _dumps(body).encode()
            self.send_response(status)
            kind = "text/csv" if isinstance(body, bytes) else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, [{"errorCode": code, "message": message}])

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            path = urlsplit(self.path).path
            org.calls.append(f"POST {path}")
            if path == "/services/oauth2/token":
                self._token(parse_qs(body))
                return
            if not self._authorized():
                return
            if path.endswith("/jobs/query"):
                request = json.loads(body)
                job_id = "750" + uuid.uuid4().hex[:15]
                org.jobs[job_id] = {"query": request["query"], "operation": request["operation"],
                                    "polls": 0}  # fmt: skip
                self._send(200, {"id": job_id, "operation": request["operation"],
                                 "state": "UploadComplete"})  # fmt: skip
                return
            self._error(404, "NOT_FOUND", "The requested resource does not exist")

        def _token(self, form: dict[str, list[str]]) -> None:
            def one(name: str) -> str:
                return (form.get(name) or [""])[0]

            grant = one("grant_type")
            ok = one("client_id") == CLIENT_ID and (
                (grant == "client_credentials" and one("client_secret") == CLIENT_SECRET)
                or (grant == "password" and one("client_secret") == CLIENT_SECRET
                    and one("username") == USERNAME and one("password") == PASSWORD + TOKEN)
                or (grant.endswith("jwt-bearer") and self._jwt_ok(one("assertion")))
            )  # fmt: skip
            if not ok:
                self._send(400, {"error": "invalid_grant", "error_description":
                                 "authentication failure"})  # fmt: skip
                return
            token = "00D" + uuid.uuid4().hex
            org.tokens.add(token)
            self._send(200, {"access_token": token, "instance_url": base(),
                             "token_type": "Bearer", "id": f"{base()}/id/00D/005"})  # fmt: skip

        def _jwt_ok(self, assertion: str) -> bool:
            import jwt

            if org.jwt_public_key is None:
                return False
            try:
                claims = jwt.decode(assertion, org.jwt_public_key, algorithms=["RS256"],
                                    audience="https://login.salesforce.com")  # fmt: skip
            except jwt.PyJWTError:
                return False
            return bool(claims.get("iss") == CLIENT_ID and claims.get("sub") == USERNAME)

        def _authorized(self) -> bool:
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if token not in org.tokens:
                self._error(401, "INVALID_SESSION_ID", "Session expired or invalid")
                return False
            if org.requests_left <= 0:
                self._error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                return False
            org.requests_left -= 1
            return True

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            org.calls.append(f"GET {parts.path}")
            if not self._authorized():
                return
            prefix = f"/services/data/v{VERSION}/"
            if not parts.path.startswith(prefix):
                self._error(404, "NOT_FOUND", "The requested resource does not exist")
                return
            rest = parts.path.removeprefix(prefix)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if rest == "limits/":
                self._send(200, {"DailyApiRequests": {"Max": 15000,
                                                      "Remaining": org.requests_left}})  # fmt: skip
            elif rest == "sobjects/":
                self._send(200, {"sobjects": [{"name": n, "queryable": True, "replicateable": True,
                                               "deprecatedAndHidden": False}
                                              for n in org.objects]})  # fmt: skip
            elif rest == "limits/recordCount":
                self._send(200, {"sObjects": [{"name": n, "count": len(o.records)}
                                              for n, o in org.objects.items()]})  # fmt: skip
            elif rest.startswith("sobjects/") and rest.endswith("/describe/"):
                name = rest.split("/")[1]
                if name not in org.objects:
                    self._error(404, "NOT_FOUND", "The requested resource does not exist")
                else:
                    self._send(200, {"name": name, "fields": org.objects[name].fields})
            elif rest in ("query/", "queryAll/"):
                self._query(query.get("q", ""), rest == "queryAll/", 0)
            elif rest.startswith(("query/", "queryAll/")):  # nextRecordsUrl
                cursor = rest.split("/")[1]
                soql, every, offset = json.loads(bytes.fromhex(cursor).decode())
                self._query(soql, every, offset)
            elif rest.startswith("jobs/query/") and rest.endswith("/results"):
                self._results(rest.split("/")[2], query)
            elif rest.startswith("jobs/query/"):
                job = org.jobs[rest.split("/")[2]]
                job["polls"] += 1
                done = job["polls"] > 1
                rows = len(_select(org, job["query"], job["operation"] == "queryAll")[1])
                self._send(200, {"id": rest.split("/")[2], "operation": job["operation"],
                                 "state": "JobComplete" if done else "InProgress",
                                 "numberRecordsProcessed": rows if done else 0})  # fmt: skip
            else:
                self._error(404, "NOT_FOUND", "The requested resource does not exist")

        def _query(self, soql: str, every: bool, offset: int) -> None:
            try:
                names, rows = _select(org, soql, every)
            except LookupError as exc:
                self._error(400, "INVALID_FIELD", str(exc))
                return
            if names is None:  # COUNT()
                self._send(200, {"totalSize": len(rows), "done": True, "records": []})
                return
            page = rows[offset : offset + org.page_size]
            following = offset + len(page)
            body: dict[str, Any] = {
                "totalSize": len(rows),
                "done": following >= len(rows),
                "records": [_json_record(org, soql, r, names) for r in page],
            }
            if following < len(rows):
                cursor = json.dumps([soql, every, following]).encode().hex()
                kind = "queryAll" if every else "query"
                body["nextRecordsUrl"] = f"/services/data/v{VERSION}/{kind}/{cursor}"
            self._send(200, body)

        def _results(self, job_id: str, query: dict[str, str]) -> None:
            job = org.jobs[job_id]
            names, rows = _select(org, job["query"], job["operation"] == "queryAll")
            assert names is not None
            start = int(query.get("locator") or 0)
            size = int(query.get("maxRecords") or 50000)
            page = rows[start : start + size]
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(names)
            for row in page:
                writer.writerow([_csv_value(row.get(n)) for n in names])
            following = start + len(page)
            locator = str(following) if following < len(rows) else "null"
            self._send(200, out.getvalue().encode(), {
                "Sforce-Locator": locator, "Sforce-NumberOfRecords": str(len(page))})  # fmt: skip

    return Handler


def _select(org: Org, soql: str, every: bool) -> tuple[list[str] | None, list[dict[str, Any]]]:
    match = _SOQL.match(soql.strip())
    if match is None:
        raise LookupError(f"unexpected token in {soql!r}")
    obj = org.objects.get(match["obj"])
    if obj is None:
        raise LookupError(f"sObject type '{match['obj']}' is not supported")
    kinds = {str(f["name"]): str(f["type"]) for f in obj.fields}
    listed = [n.strip() for n in match["fields"].split(",")]
    names = None if listed == ["COUNT()"] else listed
    for name in [*(names or []), *([match["key"]] if match["key"] else [])]:
        if name not in kinds:
            raise LookupError(f"No such column '{name}' on entity '{match['obj']}'")
    rows = [r for r in obj.records if every or not r.get("IsDeleted")]
    if match["key"]:
        bound = _parse_literal(match["bound"], kinds[match["key"]])
        rows = [r for r in rows if r.get(match["key"]) is not None and r[match["key"]] >= bound]
    return names, rows


def _parse_literal(text: str, kind: str) -> Any:
    if kind == "datetime":
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if kind == "date":
        return date.fromisoformat(text)
    if kind in ("int", "long"):
        return int(text)
    if kind in ("double", "currency", "percent"):
        return Decimal(text)
    return text.strip("'")


def _json_record(org: Org, soql: str, row: dict[str, Any], names: list[str]) -> dict[str, Any]:
    obj = str(_SOQL.match(soql.strip())["obj"])  # type: ignore[index]
    record: dict[str, Any] = {"attributes": {"type": obj, "url": f"/services/data/v{VERSION}/"
                                             f"sobjects/{obj}/{row.get('Id')}"}}  # fmt: skip
    for name in names:
        record[name] = _json_value(row.get(name))
    return record


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{value.microsecond // 1000:03d}+0000"
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value


def _dumps(body: Any) -> str:
    """JSON with each Decimal as its exact digits (a JSON number, as Salesforce sends one)."""

    def marked(value: Any) -> str:
        if isinstance(value, Decimal):
            return f"__decimal__{value}__"
        return str(value)

    return re.sub(r'"__decimal__(.*?)__"', r"\1", json.dumps(body, default=marked))


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{value.microsecond // 1000:03d}Z"
        )
    if isinstance(value, time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return str(value)
