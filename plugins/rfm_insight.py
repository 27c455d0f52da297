"""The RFM page in the Airflow UI (Airflow 3 plugin): the FastAPI app of
``vehicle_sales.insight.app`` mounted on the API server at ``/rfm``, linked from the navigation
(Browse -> RFM segments) and as a tab of the DAG's page. Logic lives in the bundle; this file only
registers it."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from vehicle_sales.insight.app import create_app

URL_PREFIX = "/rfm"


class RfmInsightPlugin(AirflowPlugin):
    name = "rfm_insight"
    fastapi_apps = [{"name": "RFM segments", "app": create_app(), "url_prefix": URL_PREFIX}]
    external_views = [
        {
            "name": "RFM segments",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "rfm-segments",
        },
        {
            "name": "RFM segments",
            "href": f"{URL_PREFIX}/",
            "destination": "dag",
            "url_route": "rfm-segments-dag",
        },
    ]
