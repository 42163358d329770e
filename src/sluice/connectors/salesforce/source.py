"""Salesforce source: an sObject (`source_tablename`, e.g. Account) read by SOQL with the fields
describe() lists, through the REST query API (pages of up to 2,000 records followed by
nextRecordsUrl) or, from `bulk_threshold` records on, one Bulk API 2.0 query job whose CSV
result pages are streamed (Sforce-Locator), each page one batch: memory stays bounded.

Salesforce has no read snapshot: the rows are those the query returned, and the count a full
read is checked against is the query's own (REST totalSize, the job's records processed).
Incremental reads filter on the key (SystemModstamp, or any date, datetime or number field)
with `key >= bound`, whole seconds: the engine filters exactly afterwards.
"""

from __future__ import annotations

import io
import time
from collections.abc import Generator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from sluice.connectors.base import ReadRequest, SourceRead, TableInfo
from sluice.connectors.discovery import CatalogColumn, CatalogTable
from sluice.connectors.missing import missing_table
from sluice.connectors.salesforce.config import SalesforceCreds
from sluice.connectors.salesforce.connection import (
    REQUEST_TIMEOUT,
    connect,
    failure,
    translate,
)
from sluice.connectors.salesforce.types import SfField, csv_batch, fields_of, rest_batch
from sluice.core.errors import TerminalError
from sluice.core.models import TableRef

if TYPE_CHECKING:
    from simple_salesforce.api import Salesforce

# A Bulk job's state is asked for at most this often, then less often up to MAX_POLL.
FIRST_POLL, MAX_POLL = 0.2, 5.0


class SalesforceSource:
    type_name: ClassVar[str] = "salesforce"

    def __init__(self, creds: SalesforceCreds) -> None:
        self.creds = creds
        self._sf: Salesforce | None = None

    def _client(self) -> Salesforce:
        if self._sf is None:
            self._sf = connect(self.creds)
        return self._sf

    def _call(self, method: str, path: str, **options: Any) -> Any:
        """A REST call under the session; an error answer as sluice's own error."""
        import requests

        sf = self._client()
        try:
            answer = sf.session.request(
                method, sf.base_url + path, headers=sf.headers, timeout=REQUEST_TIMEOUT,
                **options,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise translate(exc, self.creds) from None
        if answer.status_code >= 300:
            raise failure(answer, self.creds)
        return answer

    def ping(self) -> str:
        limits = self._call("GET", "limits/").json(parse_float=Decimal)
        daily = limits.get("DailyApiRequests") or {}
        left = f", {daily.get('Remaining')} of {daily.get('Max')} daily API requests left"
        return f"Salesforce {self.creds.location()} (API v{self.creds.api_version}){left}"

    def discover(self, schema: str | None) -> list[CatalogTable]:
        """The org's queryable objects (one request, not a describe each): key Id, and
        SystemModstamp (indexed, on every replicateable object) to range over; record counts
        from the org's record count resource where the API version has it. An org has no
        schemas: `schema` is ignored."""
        listing = self._call("GET", "sobjects/").json().get("sobjects", [])
        try:
            counted = self._call("GET", "limits/recordCount").json().get("sObjects", [])
        except TerminalError:  # not offered to this user or API version: no estimates
            counted = []
        counts = {str(c["name"]): int(c["count"]) for c in counted}
        found = []
        for sobject in listing:
            if not sobject.get("queryable") or sobject.get("deprecatedAndHidden"):
                continue
            name = str(sobject["name"])
            columns = [CatalogColumn("Id", "other", indexed=True)]
            if sobject.get("replicateable"):
                columns.append(CatalogColumn("SystemModstamp", "timestamp", indexed=True))
            found.append(CatalogTable(TableRef(name), counts.get(name), ("Id",), tuple(columns)))
        return found

    def _describe(self, table: TableRef) -> tuple[list[SfField], list[str]]:
        obj = table.name
        try:
            describe = self._call("GET", f"sobjects/{obj}/describe/").json()
        except TerminalError as exc:
            if "not found" not in str(exc).lower():
                raise
            names = [str(s["name"]) for s in self._call("GET", "sobjects/").json()["sobjects"]
                     if s.get("queryable")]  # fmt: skip
            raise missing_table(
                f"Salesforce object {obj!r} does not exist in {self.creds.location()} or the "
                "user cannot query it",
                obj,
                sorted(names),
            ) from None
        return fields_of(describe)

    def check(self, table: TableRef, *, count_rows: bool = True) -> TableInfo:
        fields, _ = self._describe(table)
        count = None
        if count_rows:
            count = int(self._query_page(f"SELECT COUNT() FROM {table.name}")["totalSize"])
        schema = pa.schema([f.field() for f in fields])
        return TableInfo(table=table, schema=schema, row_count=count, primary_key=("Id",))

    def read(self, request: ReadRequest) -> SourceRead:
        warnings: list[str] = []
        return SourceRead(self._read(request, warnings), warnings)

    def _read(
        self, request: ReadRequest, warnings: list[str]
    ) -> Generator[pa.RecordBatch, None, int | None]:
        obj = request.table.name
        fields, left_out = self._describe(request.table)
        if left_out:
            warnings.append(
                f"fields of {obj} not read (no query returns them as values): "
                + ", ".join(left_out)
            )
        where = self._where(request, fields)
        soql = f"SELECT {', '.join(f.name for f in fields)} FROM {obj}{where}"
        size = int(self._query_page(f"SELECT COUNT() FROM {obj}{where}")["totalSize"])
        if size >= self.creds.bulk_threshold:
            counted = yield from self._bulk(soql, fields, obj, request.batch_rows)
        else:
            counted = yield from self._rest(soql, fields, obj)
        return counted if request.count_rows else None

    def _where(self, request: ReadRequest, fields: list[SfField]) -> str:
        if request.incremental_key is None or request.lower_bound is None:
            return ""
        by_name = {f.name: f for f in fields}
        if request.incremental_key not in by_name:
            raise TerminalError(
                f"incremental key {request.incremental_key!r} is not a field of Salesforce "
                f"object {request.table.name} (SystemModstamp is the usual one): fix --key"
            )
        if request.fallback_key is not None:
            raise TerminalError(
                "a NULL-key fallback column is not supported for Salesforce: its "
                "SystemModstamp is never NULL; drop --null-key-fallback"
            )
        return f" WHERE {request.incremental_key} >= {_literal(request.lower_bound)}"

    # ---- REST query API --------------------------------------------------------------
    def _query_page(self, soql: str) -> dict[str, Any]:
        path = "queryAll/" if self.creds.include_deleted else "query/"
        result: dict[str, Any] = self._call("GET", path, params={"q": soql}).json(
            parse_float=Decimal
        )
        return result

    def _rest(
        self, soql: str, fields: list[SfField], obj: str
    ) -> Generator[pa.RecordBatch, None, int]:
        page = self._query_page(soql)
        total = int(page["totalSize"])
        while True:
            if page.get("records"):
                yield rest_batch(page["records"], fields, obj)
            following = page.get("nextRecordsUrl")
            if page.get("done", True) or not following:
                return total
            # nextRecordsUrl is the path after the host: /services/data/vXX.X/query/01g...
            relative = str(following).split(f"/v{self.creds.api_version}/", 1)[-1]
            page = self._call("GET", relative).json(parse_float=Decimal)

    # ---- Bulk API 2.0 ----------------------------------------------------------------
    def _bulk(
        self, soql: str, fields: list[SfField], obj: str, batch_rows: int
    ) -> Generator[pa.RecordBatch, None, int]:
        import pyarrow.csv as pacsv

        operation = "queryAll" if self.creds.include_deleted else "query"
        job = self._call("POST", "jobs/query", json={"operation": operation, "query": soql})
        job_id = str(job.json()["id"])
        processed = self._wait(job_id, obj)
        options = pacsv.ConvertOptions(
            column_types={f.name: pa.string() for f in fields},
            strings_can_be_null=True,
            null_values=[""],
        )
        locator: str | None = ""
        while locator is not None:
            params: dict[str, Any] = {"maxRecords": batch_rows}
            if locator:
                params["locator"] = locator
            page = self._call("GET", f"jobs/query/{job_id}/results", params=params,
                              stream=False)  # fmt: skip
            following = page.headers.get("Sforce-Locator", "null")
            locator = None if following in ("", "null") else following
            if int(page.headers.get("Sforce-NumberOfRecords", "0")) == 0:
                continue
            table = pacsv.read_csv(io.BytesIO(page.content), convert_options=options)
            yield csv_batch(table, fields, obj)
        return processed

    def _wait(self, job_id: str, obj: str) -> int:
        """Poll the job until it completes; the records it processed."""
        pause = FIRST_POLL
        while True:
            state = self._call("GET", f"jobs/query/{job_id}").json()
            if state["state"] == "JobComplete":
                return int(state.get("numberRecordsProcessed") or 0)
            if state["state"] in ("Failed", "Aborted"):
                raise TerminalError(
                    f"Salesforce {self.creds.location()}: the Bulk API query job {job_id} on "
                    f"{obj} {state['state'].lower()}: {state.get('errorMessage') or 'no reason'}"
                )
            time.sleep(pause)
            pause = min(pause * 2, MAX_POLL)

    def close(self) -> None:
        if self._sf is not None:
            self._sf.session.close()
            self._sf = None


def _literal(value: Any) -> str:
    """A SOQL literal no greater than `value` (datetimes to the whole second, in UTC)."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | float):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"
