"""The OpenAPI document and the Swagger UI, served from the app itself (closed networks)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import webtest

from migasfree_pyramid import make_config
from migasfree_pyramid.db import ENGINE_KEY

EXTERNAL = re.compile(r"""(?:https?:)?//[\w.-]+""")


class AssetCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.urls.append(value)


def page_assets(html: str) -> list[str]:
    collector = AssetCollector()
    collector.feed(html)
    return collector.urls


def test_schema_is_openapi_3_json(client):
    response = client.get("/api/schema/", as_="anonymous")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    document = response.json
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"]
    assert "Error" in document["components"]["schemas"]


def test_schema_describes_the_admin_and_login_paths(client):
    paths = client.get("/api/schema/", as_="anonymous").json["paths"]
    projects = paths["/api/v1/token/projects/"]
    assert {"get", "post"} <= set(projects)
    names = {param["name"] for param in projects["get"]["parameters"]}
    assert {"page", "page_size"} <= names
    assert "requestBody" in projects["post"]
    assert "post" in paths["/token-auth-jwt/"]
    # Path parameters use OpenAPI's {name}, without Pyramid's regular expressions.
    assert not [path for path in paths if ":" in path]


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/docs/", as_="anonymous")
    assert response.status_code == 200
    assert response.content_type == "text/html"
    assert not EXTERNAL.search(response.text), EXTERNAL.search(response.text)
    assets = page_assets(response.text)
    assert len(assets) == 4  # the css, two bundles and the start-up script
    static = [url for url in assets if "/docs/static/" in url]
    assert len(static) == 3
    for url in static:
        asset = client.get(urljoin("/docs/", url), as_="anonymous")
        assert asset.status_code == 200, url
        assert len(asset.body) > 1000, url


def test_start_up_script_loads_the_local_schema(client):
    response = client.get("/docs/", as_="anonymous")
    init = next(url for url in page_assets(response.text) if "init" in url)
    script = client.get(urljoin("/docs/", init), as_="anonymous")
    assert script.status_code == 200
    assert '"/api/schema/"' in script.text
    assert not EXTERNAL.search(script.text)


def test_swagger_ui_does_not_call_the_online_validator(client):
    response = client.get("/docs/", as_="anonymous")
    init = next(url for url in page_assets(response.text) if "init" in url)
    script = client.get(urljoin("/docs/", init), as_="anonymous").text
    assert re.search(r"validatorUrl\s*:\s*null", script)


def test_docs_need_no_login(client):
    for path in ("/api/schema/", "/docs/"):
        assert client.get(path, as_="anonymous").status_code == 200


def test_docs_can_be_turned_off(settings, engine):
    app = make_config({**settings, ENGINE_KEY: engine, "migasfree.docs": "false"}).make_wsgi_app()
    testapp = webtest.TestApp(app)
    for path in ("/api/schema/", "/docs/", "/docs/docs-init.js"):
        assert testapp.get(path, status="*").status_code == 404
