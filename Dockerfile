# Airflow image for the vehicle-sales-rfm bundle: the official image plus the pinned dependency set
# and the bundle's own distribution (its provider entry point registers the "ArcGIS Geocoding"
# connection type with the UI). The bundle's code (dags/ plugins/ include/ sql/ data/) is mounted by
# docker-compose.yaml; the mounted include/ comes first on PYTHONPATH, so it is the code that runs.
FROM apache/airflow:3.3.2-python3.11

USER airflow
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/requirements/
# apache-airflow==${AIRFLOW_VERSION} (set by the base image) keeps pip from moving Airflow itself;
# constraints.txt is the project's full lock, so the image resolves to the same versions as `make install`
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        -r /opt/airflow/requirements/requirements.txt \
        -c /opt/airflow/requirements/constraints.txt

# the distribution (metadata + entry point), as `make install` does with `pip install -e .`
COPY --chown=airflow:0 pyproject.toml /opt/airflow/bundle/
COPY --chown=airflow:0 include/ /opt/airflow/bundle/include/
RUN pip install --no-cache-dir --no-deps /opt/airflow/bundle

# include/ holds the vehicle_sales package (the ArcGIS hook included); sql/ and data/ are found
# under VEHICLE_SALES_HOME (include/vehicle_sales/common/paths.py)
ENV PYTHONPATH=/opt/airflow/include:/opt/airflow/plugins \
    VEHICLE_SALES_HOME=/opt/airflow
