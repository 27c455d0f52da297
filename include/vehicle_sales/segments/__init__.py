"""Stage 3, segmentation: RFM, preprocessing, K-Medoids, metrics, model selection, naming, publication, report."""
