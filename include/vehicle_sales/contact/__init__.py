"""Stage 2, contact quality: phone validation and ArcGIS geocoding."""
