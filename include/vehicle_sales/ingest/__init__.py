"""Stage 1, ingestion: download the export, detect its encoding, stage its rows, load reference data."""
