"""The ArcGIS connection type is registered: the bundle's provider entry point, as Airflow reads it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema

from vehicle_sales.contact.arcgis.hook import ArcGISGeocodingHook
from vehicle_sales.provider import ARCGIS_FORM, DISTRIBUTION, get_provider_info

ROOT = Path(__file__).resolve().parents[2]


def test_provider_info_is_valid_for_airflow_and_names_the_installed_distribution():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert info["package-name"] == DISTRIBUTION == project["name"]
    assert (
        project["entry-points"]["apache_airflow_provider"]["provider_info"]
        == "vehicle_sales.provider:get_provider_info"
    )
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == ArcGISGeocodingHook.conn_type == "arcgis_geocoding"
    assert conn_type["hook-name"] == ArcGISGeocodingHook.hook_name
    module, _, cls = conn_type["hook-class-name"].rpartition(".")
    assert (module, cls) == (ArcGISGeocodingHook.__module__, ArcGISGeocodingHook.__name__)


def test_the_hook_reports_the_same_form_as_the_provider():
    behaviour = ArcGISGeocodingHook.get_ui_field_behaviour()
    assert (
        behaviour["relabeling"]
        == ARCGIS_FORM["relabeling"]
        == {"host": "GeocodeServer URL", "password": "API key"}
    )
    assert behaviour["hidden_fields"] == ARCGIS_FORM["hidden-fields"]


def test_airflow_offers_the_connection_type_with_the_hook_s_labels():
    """What the UI's Add Connection form reads (GET /ui/connections/hook_meta), from the installed bundle."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    from airflow.providers_manager import ProvidersManager

    assert DISTRIBUTION in ProvidersManager().providers, "run make install: the bundle is not installed"
    meta = {m.connection_type: m for m in HookMetaService.hook_meta_data()}
    arcgis = meta["arcgis_geocoding"]
    assert arcgis.hook_name == "ArcGIS Geocoding"
    fields = arcgis.standard_fields
    assert (fields.host.title, fields.password.title) == ("GeocodeServer URL", "API key")
    assert fields.login.hidden is True
