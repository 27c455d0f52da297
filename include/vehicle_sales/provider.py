"""The bundle as an Airflow provider: registers the ArcGIS connection type with the UI.

``pyproject.toml`` declares :func:`get_provider_info` under the ``apache_airflow_provider`` entry
point, so once the bundle is installed (``make install``, the Docker image) Airflow's
ProvidersManager lists it and Admin -> Connections -> Add offers "ArcGIS Geocoding" with these
field labels. Airflow 3.3 builds the form from this dict alone (it does not import the hook for it),
and calls this function in every Airflow process: keep it free of heavy imports.
"""

from __future__ import annotations

from typing import Any

from vehicle_sales.contact.arcgis.payloads import DEFAULT_BASE_URL

DISTRIBUTION = "vehicle-sales-rfm"  # must equal pyproject's [project] name (Airflow checks it)
ARCGIS_CONN_TYPE = "arcgis_geocoding"
ARCGIS_FORM: dict[str, Any] = {
    "hidden-fields": ["login", "extra"],
    "relabeling": {"host": "GeocodeServer URL", "password": "API key"},
    "placeholders": {"host": DEFAULT_BASE_URL},
}


def get_provider_info() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        versions = [version(DISTRIBUTION)]
    except PackageNotFoundError:  # imported from a checkout that was not installed
        versions = []
    return {
        "package-name": DISTRIBUTION,
        "name": "Vehicle sales RFM",
        "description": "Vehicle sales RFM DAG bundle: the ArcGIS Geocoding connection type.",
        "versions": versions,
        "connection-types": [
            {
                "connection-type": ARCGIS_CONN_TYPE,
                "hook-class-name": "vehicle_sales.contact.arcgis.hook.ArcGISGeocodingHook",
                "hook-name": "ArcGIS Geocoding",
                "ui-field-behaviour": ARCGIS_FORM,
            }
        ],
    }
