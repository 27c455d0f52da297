"""The Docker stack (Dockerfile, docker-compose.yaml, .env.example) is consistent with the repository.

No Docker engine is needed: the compose file is parsed with PyYAML (which resolves the `<<` merge keys
of the x-airflow-common anchor) and its ${VAR} references are interpolated with the values of
.env.example, as `docker compose` would do with `cp .env.example .env`. `docker compose config` itself
runs only where the compose CLI is installed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
sys.path.insert(0, str(ROOT / "scripts"))  # airflow_celery: the local recipe, read_settings

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
REQUIRED_SERVICES = AIRFLOW_SERVICES | {"postgres", "redis", "sales-db"}
BUNDLE_DIRS = ("dags", "plugins", "include", "sql", "data")
AIRFLOW_ROOT = "/opt/airflow"
AUTH_MANAGERS = {"airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"}

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; $$ is a literal $
_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# ----------------------------------------------------------------------------- helpers


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a compose .env file (comments and blank lines skipped, quotes removed)."""
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution; a missing required variable raises KeyError."""

    def repl(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$$"  # compose turns it into "$" in the container: keep it recognisable
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        value = env.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return arg
        elif op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise KeyError(f"required variable {name} is not set: {arg}")
        return value or ""

    return _VAR.sub(repl, text)


def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def env_of(service: dict) -> dict[str, str]:
    """A service's environment as compose gives it: its env_file(s), then `environment` on top."""
    from airflow_celery import read_settings

    merged: dict[str, str] = {}
    files = service.get("env_file") or []
    for f in [files] if isinstance(files, str) else files:
        merged.update(read_settings(ROOT / (f["path"] if isinstance(f, dict) else f)))
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...] form
        env = dict(item.partition("=")[::2] for item in env)
    merged.update({k: "" if v is None else str(v) for k, v in env.items()})
    return merged


def volume_specs(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume of a service (short or long syntax)."""
    specs = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, dict):
            specs.append((str(vol.get("source", "")), str(vol["target"])))
        else:
            parts = str(vol).split(":")
            specs.append((parts[0], parts[1]) if len(parts) > 1 else ("", parts[0]))
        assert specs[-1][1].startswith("/"), f"volume target is not absolute: {vol!r}"
    return specs


def is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~", "$"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    assert not current, "Dockerfile ends with a line continuation"
    result = []
    for line in logical:
        instr, _, args = line.partition(" ")
        result.append((instr.upper(), args.strip()))
    return result


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    assert ENV_EXAMPLE.is_file(), ".env.example is missing"
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(example_env) -> dict:
    """The compose file as `docker compose` sees it after `cp .env.example .env`."""
    return yaml.safe_load(interpolate(COMPOSE_FILE.read_text(encoding="utf-8"), example_env))


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


# ----------------------------------------------------------------------------- services


def test_all_services_of_the_stack_are_defined(services):
    missing = REQUIRED_SERVICES - set(services)
    assert not missing, f"services missing from docker-compose.yaml: {sorted(missing)}"
    assert services["flower"]["profiles"] == ["flower"], "flower must be opt-in (profile flower)"
    for name in REQUIRED_SERVICES:
        assert "profiles" not in services[name], f"{name} must start with a plain `docker compose up`"


def test_airflow_services_are_built_from_the_dockerfile_with_the_common_anchor(services):
    raw = raw_compose()
    common = raw["x-airflow-common"]
    assert common["build"] == ".", "x-airflow-common must build the image from ./Dockerfile"
    assert (ROOT / "Dockerfile").is_file()
    common_volumes = common["volumes"]
    for name in AIRFLOW_SERVICES | {"flower"}:
        svc = services[name]
        assert svc.get("build") == ".", f"{name} does not use the image built from ./Dockerfile"
        assert svc.get("image") == services["airflow-apiserver"]["image"], f"{name} uses another image"
        assert raw["services"][name]["volumes"] == common_volumes, (
            f"{name} does not share the anchor's volumes"
        )
        targets = {target for _, target in volume_specs(svc)}
        for d in BUNDLE_DIRS:
            assert f"{AIRFLOW_ROOT}/{d}" in targets, f"{name} does not mount ./{d} at {AIRFLOW_ROOT}/{d}"
        assert svc["user"].endswith(":0"), f"{name} must run with group 0 (official image requirement)"
    for name in REQUIRED_SERVICES - AIRFLOW_SERVICES:
        assert "build" not in services[name], f"{name} should use a stock image"


def test_bundle_directories_are_mounted_from_the_repository(services):
    for d in BUNDLE_DIRS:
        sources = {
            src for src, target in volume_specs(services["airflow-worker"]) if target == f"{AIRFLOW_ROOT}/{d}"
        }
        assert sources and all((ROOT / src).resolve() == ROOT / d for src in sources), (
            f"{AIRFLOW_ROOT}/{d} is not mounted from ./{d}: {sources}"
        )


@pytest.mark.parametrize(
    "source",
    sorted(
        {
            src
            for svc in (yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")) or {})
            .get("services", {})
            .values()
            for src, _ in volume_specs(svc)
            if is_bind(src)
        }
    )
    or ["<no bind mounts found>"],
)
def test_every_bind_mounted_path_exists_in_the_repository(source):
    assert source != "<no bind mounts found>", "docker-compose.yaml mounts nothing from the repository"
    assert source.startswith("./"), f"bind mount {source!r} is not relative to the repository"
    path = (ROOT / source).resolve()
    assert path.is_relative_to(ROOT), f"{source} points outside the repository"
    assert path.exists(), (
        f"{source} is mounted by docker-compose.yaml but does not exist in the repository "
        "(Docker would create it, owned by root): add it to the repository or drop the mount"
    )


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for src, _ in volume_specs(svc):
            if src and not is_bind(src):
                assert src in declared, f"{name} uses volume {src!r}, not declared under top-level volumes"


def test_include_and_plugins_are_importable_in_the_containers(services):
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        entries = env.get("PYTHONPATH", "").split(":")
        targets = {target for _, target in volume_specs(services[name])}
        for d in ("include", "plugins"):
            assert f"{AIRFLOW_ROOT}/{d}" in entries, f"{name}: {AIRFLOW_ROOT}/{d} is not on PYTHONPATH"
        for entry in filter(None, entries):
            assert entry in targets, f"{name}: PYTHONPATH entry {entry} is not a mounted directory"
        assert env.get("VEHICLE_SALES_HOME") == AIRFLOW_ROOT, f"{name}: sql/ and data/ would not be found"
    image_env = dict(
        word.split("=", 1)
        for instr, args in dockerfile_instructions()
        if instr == "ENV"
        for word in shlex.split(args)
        if "=" in word
    )
    image_path = image_env.get("PYTHONPATH", "").split(":")
    assert {f"{AIRFLOW_ROOT}/include", f"{AIRFLOW_ROOT}/plugins"} <= set(image_path), (
        "the image alone (docker run) would not import include/ and plugins/"
    )


# ----------------------------------------------------------------------------- Airflow configuration


def test_airflow_runs_celery_with_a_shared_execution_api_and_jwt_secret(services):
    assert services["airflow-apiserver"]["command"] == "api-server"
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] in AUTH_MANAGERS, name
        url = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (url.hostname, url.port, url.path) == ("airflow-apiserver", 8080, "/execution/"), name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"], f"{name}: the JWT secret must be shared, not generated"
        assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis", name
        assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres", name
    secrets = {env_of(services[n])["AIRFLOW__API_AUTH__JWT_SECRET"] for n in AIRFLOW_SERVICES}
    assert len(secrets) == 1, "components would not accept each other's tokens"


def test_compose_and_the_local_celery_recipe_read_the_same_settings(services, tmp_path):
    """deploy/celery.env is the one place: every Airflow service reads it and overrides none of it,
    and the recipe make airflow-celery runs (and tests/e2e/test_celery.py tests) applies it as is."""
    from airflow_celery import SETTINGS, Deployment, read_settings

    shared = read_settings()
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name in AIRFLOW_SERVICES:
        files = services[name].get("env_file")
        assert files == ["deploy/celery.env"], name
        own = services[name].get("environment") or {}
        assert not set(own) & set(shared), f"{name} overrides {set(own) & set(shared)} of {SETTINGS.name}"
    local = Deployment(
        tmp_path, "postgresql://u@h/w", "postgresql+psycopg2://u@h/m", broker_url="redis://h/5"
    )
    for env in [local.env(), local.worker_env(1), local.worker_env(2)]:
        assert {k: env[k] for k in shared} == shared
    # the host's own values differ by recipe, but the same keys are set by both
    host_keys = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
    }
    assert host_keys <= set(local.env())
    assert host_keys <= set(env_of(services["airflow-worker"]))


def test_celery_and_its_provider_are_pinned_alike_for_both_recipes():
    """The image installs requirements.txt with constraints.txt, as make install does: one pin each."""
    reqs = (ROOT / "requirements.txt").read_text()
    constraints = dict(
        line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line
    )
    assert "celery[redis]==5.6.3" in reqs and constraints["celery"] == "5.6.3"  # 5.7.0 breaks provider 3.26.0
    assert "apache-airflow-providers-celery==3.26.0" in reqs
    assert constraints["apache-airflow-providers-celery"] == "3.26.0"
    from importlib.metadata import version

    assert version("celery") == "5.6.3" and version("apache-airflow-providers-celery") == "3.26.0"


def test_simple_auth_manager_exists_in_the_installed_airflow():
    """The auth managers the test accepts are real; FAB comes with the official image, not with .venv."""
    import airflow

    simple = Path(airflow.__file__).parent / "api_fastapi/auth/managers/simple/simple_auth_manager.py"
    assert simple.is_file()


def test_services_have_healthchecks_and_wait_for_them(services):
    for name in REQUIRED_SERVICES - {"airflow-init"}:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        for db in ("postgres", "redis", "sales-db"):
            assert deps.get(db, {}).get("condition") == "service_healthy", f"{name} does not wait for {db}"
        if name != "airflow-init":
            assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    init_env = env_of(services["airflow-init"])
    assert init_env.get("_AIRFLOW_DB_MIGRATE") == "true"
    # SimpleAuthManager: airflow-init writes the admin's password file, every service reads it
    assert "/opt/airflow/auth/passwords.json" in "\n".join(services["airflow-init"]["command"])
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == "/opt/airflow/auth/passwords.json"
        assert ("airflow-auth", "/opt/airflow/auth") in volume_specs(services[name]), name
    assert "8080:8080" in services["airflow-apiserver"]["ports"]


# ----------------------------------------------------------------------------- warehouse


def test_sales_db_is_a_postgres_with_healthcheck_and_its_own_volume(services):
    db = services["sales-db"]
    assert db["image"].startswith("postgres:")
    env = env_of(db)
    assert env["POSTGRES_DB"] == "warehouse"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    data = [src for src, target in volume_specs(db) if target == "/var/lib/postgresql/data"]
    assert data and not is_bind(data[0]), "sales-db needs a named volume for its data"
    others = {src for name, svc in services.items() if name != "sales-db" for src, _ in volume_specs(svc)}
    assert data[0] not in others, "sales-db must not share its data volume"


def test_sales_db_connection_points_at_the_warehouse(services):
    db_env = env_of(services["sales-db"])
    for name in AIRFLOW_SERVICES:
        url = urlsplit(env_of(services[name])["AIRFLOW_CONN_SALES_DB"])
        assert url.scheme in ("postgresql", "postgres"), name
        assert (url.hostname, url.port or 5432, url.path) == ("sales-db", 5432, "/warehouse"), name
        assert url.username == db_env["POSTGRES_USER"], f"{name}: connection user differs from sales-db"
        assert url.password == db_env["POSTGRES_PASSWORD"], f"{name}: connection password differs"
        assert env_of(services[name])["AIRFLOW_CONN_ARCGIS_GEOCODING"] == "", (
            "geocoding must be off unless .env sets it"
        )


def test_the_dag_names_the_same_warehouse_host():
    dag = (ROOT / "dags" / "vehicle_sales_rfm.py").read_text(encoding="utf-8")
    assert "sales-db:5432/warehouse" in dag, "the DAG's asset URIs name another warehouse host"


# ----------------------------------------------------------------------------- secrets and .env


def test_secrets_come_from_env_variables_only():
    raw = raw_compose()
    secret_key = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$")
    just_a_variable = re.compile(r"\$\{[A-Za-z_]\w*(:?[-?][^}]*)?\}")
    url_password = re.compile(r"^[a-z][a-z0-9+.-]*://(?:\$\{[^}]*\}|[^:/@]*):(?P<password>.*)@[^@]*$")
    blocks = {"x-airflow-common": raw["x-airflow-common"], **raw["services"]}
    for block_name, block in blocks.items():
        for key, value in env_of(block).items():
            if secret_key.search(key) and value and not key.endswith("_FILE"):  # a path, not a secret
                assert just_a_variable.fullmatch(value), f"{block_name}: {key} is not taken from .env"
            m = url_password.match(value)
            if m and m["password"]:
                assert just_a_variable.fullmatch(m["password"]), f"{block_name}: {key} has a literal password"


def test_env_example_sets_every_required_variable_with_placeholders(example_env):
    required = {
        m.group("name")
        for m in _VAR.finditer(COMPOSE_FILE.read_text(encoding="utf-8"))
        if m.group("op") in (":?", "?")
    }
    assert required, "compose has no required variables: secrets would have defaults"
    for name in sorted(required):
        assert example_env.get(name), f".env.example does not set {name}"
    for name in (
        "AIRFLOW_UID",
        "_AIRFLOW_WWW_USER_PASSWORD",
        "SALES_DB_PASSWORD",
        "AIRFLOW_CONN_ARCGIS_GEOCODING",
    ):
        assert name in example_env, f".env.example does not mention {name}"
    for name, value in example_env.items():
        if re.search(r"PASSWORD|SECRET", name):
            assert "change-me" in value, f".env.example: {name} should be an obvious placeholder"
    assert "your-arcgis-api-key" in ENV_EXAMPLE.read_text(encoding="utf-8"), "no ArcGIS key placeholder"
    with pytest.raises(KeyError):
        interpolate(COMPOSE_FILE.read_text(encoding="utf-8"), {})


# ----------------------------------------------------------------------------- Dockerfile


def test_dockerfile_base_image_matches_installed_airflow():
    import airflow

    froms = [args for instr, args in dockerfile_instructions() if instr == "FROM"]
    assert len(froms) == 1, f"expected one FROM, got {froms}"
    m = re.fullmatch(r"apache/airflow:(?P<version>[0-9][^-\s]*)-python(?P<py>\d+\.\d+)", froms[0])
    assert m, f"unexpected base image {froms[0]!r}"
    assert m["version"] == airflow.__version__, "Dockerfile and .venv run different Airflow versions"
    assert m["py"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    pinned = re.search(r"^apache-airflow==(\S+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned and pinned[1] == m["version"], "requirements.txt pins another Airflow version"


def test_dockerfile_installs_requirements_with_constraints():
    instructions = dockerfile_instructions()
    copied = " ".join(args for instr, args in instructions if instr in ("COPY", "ADD"))
    for name in ("requirements.txt", "constraints.txt"):
        assert name in copied.split(), f"Dockerfile does not copy {name}"
        assert (ROOT / name).is_file()
    runs = [args for instr, args in instructions if instr == "RUN" and "pip install" in args]
    assert runs, "Dockerfile installs nothing"
    words = shlex.split(runs[0])
    assert any(w.endswith("requirements.txt") and words[i - 1] == "-r" for i, w in enumerate(words))
    assert any(w.endswith("constraints.txt") and words[i - 1] == "-c" for i, w in enumerate(words))
    users = [args for instr, args in instructions if instr == "USER"]
    assert users and users[-1] == "airflow", "the image must end as (and pip install as) the airflow user"


# ----------------------------------------------------------------------------- docker compose config


def _compose_cli() -> list[str] | None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        try:
            ok = subprocess.run([*cmd, "version"], capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return cmd
    return None


def test_docker_compose_config_accepts_the_file(tmp_path):
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "`docker compose version` does not work here (no Docker Compose CLI): "
            "docker-compose.yaml was checked by parsing only"
        )
    env_file = tmp_path / ".env"
    shutil.copy(ENV_EXAMPLE, env_file)
    out = subprocess.run(
        [
            *cli,
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE_FILE),
            "--profile",
            "flower",
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    resolved = yaml.safe_load(out.stdout)
    assert REQUIRED_SERVICES | {"flower"} <= set(resolved["services"])


def test_the_image_installs_the_bundle_so_its_connection_type_is_registered():
    """Like `make install`, the image installs the distribution that carries the provider entry point."""
    runs = [args for instr, args in dockerfile_instructions() if instr == "RUN"]
    copies = [args for instr, args in dockerfile_instructions() if instr == "COPY"]
    assert any("pyproject.toml" in c for c in copies) and any("include/" in c for c in copies)
    assert any("--no-deps /opt/airflow/bundle" in r for r in runs), runs
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'provider_info = "vehicle_sales.provider:get_provider_info"' in pyproject
    assert "$(BIN)/python -m pip install -q --no-deps -e ." in (ROOT / "Makefile").read_text(encoding="utf-8")
