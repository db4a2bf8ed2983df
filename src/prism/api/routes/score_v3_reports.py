"""/v1/score_v3/report/*: the v3 report family (seed 004), same shapes as /v1/insights/report.

KPIs are PRISM Score v3.0's (score, crushed, CSPW, TTC, crush weight, TPT, cost per crushed
goal, APG); see `prism.api.routes.reports_common` for the endpoints.
"""

from __future__ import annotations

from prism.api.routes.reports_common import build_router

router = build_router("v3", "/v1/score_v3/report", "score_v3 reports")
