"""The OpenAPI document lists every route with every error it can answer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from api_kit import Wiring

ROUTES = {
    ("/healthz", "get"): set(),
    ("/v1/uploads", "post"): {"401", "413", "415", "422"},
    ("/v1/uploads/{image_id}/complete", "post"): {"401", "404", "409", "422"},
    ("/v1/images", "post"): {"401", "413", "415", "422"},
    ("/v1/images", "get"): {"400", "401", "422"},
    ("/v1/images/{image_id}", "get"): {"401", "404", "422"},
    ("/v1/images/{image_id}", "delete"): {"401", "404", "422"},
    ("/v1/images/{image_id}", "patch"): {"401", "404", "412", "415", "422"},
    ("/v1/images/{image_id}/reprocess", "post"): {"401", "404", "409", "422"},
    ("/v1/images/{image_id}/transform-url", "get"): {"400", "401", "404", "409", "422"},
    ("/v1/local-uploads/{token}", "post"): {"403", "413", "415"},
    ("/v1/files/{key}", "get"): {"403", "404"},
    ("/v1/recipes", "get"): {"401"},
    ("/v1/images/{image_id}/renditions/{file}", "get"): {"401", "404"},
    ("/v1/images/{image_id}/renditions/{generation}/{file}", "get"): {"401", "404"},
}


def test_every_route_is_documented_with_its_errors(local_api: Wiring) -> None:
    resp = local_api.client.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    found = {(path, method) for path, ops in doc["paths"].items() for method in ops if method != "head"}
    assert found == set(ROUTES)
    for (path, method), errors in ROUTES.items():
        responses = doc["paths"][path][method]["responses"]
        assert errors <= set(responses), (path, method, sorted(responses))
        for status in responses:
            if status.startswith(("4", "5")):
                assert list(responses[status]["content"]) == ["application/problem+json"], (path, status)
    assert local_api.client.get("/docs").status_code == 200


def test_the_aws_app_has_no_local_routes(api: Wiring) -> None:
    paths = set(api.client.get("/openapi.json").json()["paths"])
    assert ("/v1/local-uploads/{token}" in paths) is (api.name == "local")


def test_the_api_process_never_imports_the_image_engine(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import imgflow.api, imgflow.bootstrap
        from imgflow.settings import load_settings
        app = imgflow.bootstrap.build_app(load_settings(environ={{}}, data_dir={str(tmp_path)!r}))
        assert app.openapi()["paths"]
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pyvips", "PIL", "pillow_heif", "boto3")
                       or m.startswith("imgflow.processing"))
        print(",".join(heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_docs_describe_every_route(local_api: Wiring) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    for path, ops in local_api.client.get("/openapi.json").json()["paths"].items():
        for method in ops:
            assert f"{method.upper()} {path}" in docs, f"docs/api.md does not describe {method.upper()} {path}"
