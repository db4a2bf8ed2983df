"""The report endpoint family, built once for each prefix (seed 001 and seed 004):

    GET    <prefix>                 latest completed report (scope, from, to)
    POST   <prefix>/generate        synchronous: the full report; ?async=true: {id, status}
    GET    <prefix>/pending         newest pending/running job, or 204
    GET    <prefix>/status/{id}     a job's status
    POST   <prefix>/cancel/{id}     idempotent; returns the final status
    GET    <prefix>/history         {"reports": [...]} (scope, limit=20)
    GET    <prefix>/{id}            one report
    DELETE <prefix>/{id}            delete one report

`v2` serves /v1/insights/report (KPIs of the v2.1 composite), `v3` /v1/score_v3/report.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from prism.api.deps import EngineContext, context, parse_time, principal, target_developer
from prism.api.insights_schemas import (
    Report,
    ReportAccepted,
    ReportDeleted,
    ReportHistory,
    ReportJob,
)
from prism.api.schemas import ERRORS, ErrorBody
from prism.errors import BadRequest
from prism.insights import report as rp
from prism.insights.i18n import negotiate
from prism.insights.jobs import JobSpec, ReportService, service_of
from prism.score.windows import parse_kind
from prism.store.keys import Principal

SCOPE_DOC = "free tag stored with the report (default personal)"
USER_DOC = "admins: another developer of the org (id or email)"
LANG_DOC = "report language: en, fr, de, es, ja, zh (others fall back to en, and say so)"
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The report is still running, or was cancelled"}
}


def reports(request: Request) -> ReportService:
    """The engine process's report service (made on first use, stopped with the app)."""
    ctx: EngineContext = context(request)

    def make() -> ReportService:
        assert ctx.sessions is not None and ctx.scores is not None
        svc = ReportService(
            settings=ctx.settings, sessions=ctx.sessions, lake=ctx.lake, reader=ctx.scores
        )
        request.app.router.on_shutdown.append(svc.close)
        return svc

    return service_of(request.app.state, make)


def _scope(scope: str) -> str:
    scope = scope.strip()
    if not scope:
        raise BadRequest("scope must not be blank")
    return scope


def build_router(family: str, prefix: str, tag: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag], responses=ERRORS)

    @router.get("", response_model=Report)
    def latest(
        scope: str = Query("personal", max_length=100, description=SCOPE_DOC),
        from_: str | None = Query(None, alias="from", description="ISO 8601; reports from"),
        to: str | None = Query(None, description="ISO 8601; reports up to"),
        user_id: str | None = Query(None, description=USER_DOC),
        ctx: EngineContext = Depends(context),
        who: Principal = Depends(principal),
        svc: ReportService = Depends(reports),
    ) -> dict[str, Any]:
        """The most recent completed report of `scope` whose period lies within from/to."""
        dev = target_developer(ctx, who, user_id)
        t0, t1 = parse_time(from_, "from"), parse_time(to, "to")
        return svc.latest(dev, family, _scope(scope), t0, t1)

    @router.post(
        "/generate",
        response_model=Report,
        responses={
            202: {"model": ReportAccepted, "description": "?async=true: poll /status/{id}"},
            **CONFLICT,
        },
    )
    def generate(
        scope: str = Query("personal", max_length=100, description=SCOPE_DOC),
        from_: str | None = Query(None, alias="from", description="ISO 8601; period start"),
        to: str | None = Query(None, description="ISO 8601; period end (exclusive)"),
        window: str | None = Query(
            None, description="daily | weekly | monthly when from/to are absent (default weekly)"
        ),
        async_: bool = Query(False, alias="async", description="return {id, status} at once"),
        user_id: str | None = Query(None, description=USER_DOC),
        accept_language: str | None = Header(None, description=LANG_DOC),
        ctx: EngineContext = Depends(context),
        who: Principal = Depends(principal),
        svc: ReportService = Depends(reports),
    ) -> Any:
        """Generate a report. Synchronous by default: the answer is the full report."""
        dev = target_developer(ctx, who, user_id)
        kind = parse_kind(window)
        t0, t1 = parse_time(from_, "from"), parse_time(to, "to")
        if t0 is not None and t1 is not None and t0 >= t1:
            raise BadRequest("from must be before to")
        reader = svc.reader
        now = reader.now()
        if t0 is not None and t1 is None and t0 >= now:
            raise BadRequest("from must be in the past when to is not given")
        per = rp.period(
            kind,
            t0,
            t1,
            now=now,
            tz=reader.state(dev).time_zone,
            baseline=reader.config.tet_baseline_windows,
        )
        if per.current.end_utc - per.current.start_utc > rp.MAX_SPAN:
            raise BadRequest(f"a report covers at most {rp.MAX_SPAN.days} days")
        spec = JobSpec(
            family=family,
            scope=_scope(scope),
            org_id=who.org_id,
            developer_id=dev,
            requested_by=who.developer_id,
            choice=negotiate(accept_language),
            period=per,
        )
        if async_:
            rid = svc.submit(spec)
            return JSONResponse({"id": rid, "status": "pending"}, status_code=202)
        return svc.generate(spec)

    @router.get(
        "/pending",
        response_model=ReportJob,
        responses={204: {"description": "No report is being generated"}},
    )
    def pending(
        user_id: str | None = Query(None, description=USER_DOC),
        ctx: EngineContext = Depends(context),
        who: Principal = Depends(principal),
        svc: ReportService = Depends(reports),
    ) -> Any:
        """The newest in-progress generation, so a dashboard can resume polling; else 204."""
        dev = target_developer(ctx, who, user_id)
        job = svc.pending(dev, family)
        if job is None:
            return Response(status_code=204)
        return job

    @router.get("/status/{report_id}", response_model=ReportJob)
    def status(
        report_id: str,
        user_id: str | None = Query(None, description=USER_DOC),
        ctx: EngineContext = Depends(context),
        who: Principal = Depends(principal),
        svc: ReportService = Depends(reports),
    ) -> dict[str, Any]:
        """Status of a generation: pending, running (with its step), completed, failed,
        cancelled."""
        return svc.status(report_id, target_developer(ctx, who, user_id), family)

    @router.post("/cancel/{report_id}", response_model=ReportJob)
    def cancel(
        report_id: str,
        user_id: str | None = Query(None, description=USER_DOC),
        ctx: EngineContext = Depends(context),
        who: Principal = Depends(principal),
        svc: ReportService = Depends(reports),
    ) -> dict[str, Any]:
        """Cancel a pending or running generation; idempotent, returns the final status."""
        return svc.cancel(report_id, target_developer(ctx, who, user_id), family)

    @router.get("/history", response_model=ReportHistory)
    def history(
        scope: str = Query("personal", max_length=100, description=SCOPE_DOC),
        limit: int = Query(20, ge=1, le=200, description="max records (newest first)"),
        user_id: str | None = Query(None, description=USER_DOC),
        ctx: EngineContext = Depends(context),
        who: Principal = Depends(principal),
        svc: ReportService = Depends(reports),
    ) -> dict[str, Any]:
        """Completed reports of `scope`, newest first."""
        dev = target_developer(ctx, who, user_id)
        return {"reports": svc.history(dev, family, _scope(scope), limit)}

    @router.get("/{report_id}", response_model=Report, responses=CONFLICT)
    def get_report(
        report_id: str,
        user_id: str | None = Query(None, description=USER_DOC),
        ctx: EngineContext = Depends(context),
        who: Principal = Depends(principal),
        svc: ReportService = Depends(reports),
    ) -> dict[str, Any]:
        """One report by id (409 while it is still being generated)."""
        return svc.get(report_id, target_developer(ctx, who, user_id), family)

    @router.delete("/{report_id}", response_model=ReportDeleted)
    def delete_report(
        report_id: str,
        user_id: str | None = Query(None, description=USER_DOC),
        ctx: EngineContext = Depends(context),
        who: Principal = Depends(principal),
        svc: ReportService = Depends(reports),
    ) -> dict[str, Any]:
        """Delete one report (a running generation is cancelled first)."""
        return svc.delete(report_id, target_developer(ctx, who, user_id), family)

    return router
