"""The workbench's catastrophe view (docs/catastrophes.md): the declared catastrophes, and for each its claims by
stage, the time to pay, the backlog and the claims waiting longest."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from edge.services import services_of
from reporting.catastrophes import catastrophe_view, catastrophes
from web.workbench import page, staff_session

router = APIRouter(prefix="/app", tags=["workbench"], include_in_schema=False)


@router.get("/catastrophes", response_class=HTMLResponse)
async def catastrophe_list(request: Request) -> Response:
    caller = staff_session(request)
    found = await run_in_threadpool(catastrophes, services_of(request).engine)
    return page(request, "catastrophes.html", caller, catastrophes=found, view=None)


@router.get("/catastrophes/{code}", response_class=HTMLResponse)
async def catastrophe_page(request: Request, code: str) -> Response:
    caller = staff_session(request)
    view = await run_in_threadpool(catastrophe_view, services_of(request).engine, code)
    if view is None:
        return page(request, "catastrophes.html", caller, status=404, catastrophes=[], view=None, missing=code)
    return page(request, "catastrophes.html", caller, catastrophes=[], view=view)
