"""The ArcGIS World Geocoding Service: the Airflow hook and its request/response payloads."""
