"""The production build of the static files: collectstatic with hashed names (STATIC_MANIFEST), as the Dockerfile
and .ci/run run it, and pages rendered from its manifest.

Manifest storage rewrites every reference inside CSS and JS files (url(...), sourceMappingURL) to the referenced
file's hashed name, and stops when that file is missing; with DEBUG off, a page naming a file the manifest lacks
is a 500. The vendored Chart.js once named a source map that was not in the repository.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

STATIC = Path(django_settings.BASE_DIR) / "static"
MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
SOURCE_MAP = re.compile(rb"[#@] sourceMappingURL=(\S+)")


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(STATIC) for p in STATIC.rglob("*") if p.suffix in {".js", ".css"}), ids=str
)
def test_every_source_map_a_static_file_names_is_there(path):
    for name in SOURCE_MAP.findall((STATIC / path).read_bytes()):
        if not name.startswith(b"data:"):
            assert (STATIC / path).parent.joinpath(name.decode()).is_file(), f"{path} names {name.decode()}"


@pytest.fixture
def built_static(settings, tmp_path):
    """collectstatic with the production storage into a folder of the test's own, then serve from it."""
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST_STORAGE}}
    call_command("collectstatic", "--noinput", verbosity=0)
    return settings.STATIC_ROOT


def test_collectstatic_builds_hashed_files_and_the_pages_name_them(built_static, client, client_for, leader):
    assert (built_static / "staticfiles.json").is_file()
    hashed = list((built_static / "vendor" / "chartjs").glob("chart.umd.min.*.js"))
    assert hashed, "no hashed Chart.js"
    # The source map's reference inside the script was rewritten to the map's hashed name.
    assert re.search(rb"sourceMappingURL=chart\.umd\.min\.js\.[0-9a-f]{12}\.map", hashed[0].read_bytes())

    login = client.get("/accounts/login/")
    assert login.status_code == 200
    assert re.search(r"/static/vendor/htmx/htmx\.min\.[0-9a-f]{12}\.js", login.content.decode())

    dashboard = client_for(leader).get("/dashboard/")
    assert dashboard.status_code == 200
    assert re.search(r"/static/vendor/chartjs/chart\.umd\.min\.[0-9a-f]{12}\.js", dashboard.content.decode())
