"""The built wheel is complete: installed into a fresh venv far from the repository,
``portal build`` renders the site and ``portal serve`` answers.

The wheel is built without network (``--no-build-isolation``, hatchling from the test
extra) and installed with ``--no-deps``; the fresh venv finds the dependencies through
a ``.pth`` line naming this venv's site-packages, which adds that directory only (its
own ``.pth`` files, among them the editable install's pointer to the repository, are
not read). ``portal`` and ``kb`` therefore come from the wheel alone, which the test
checks first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import CONTENT, ROOT
from tests.support.servers import start_server

pytestmark = pytest.mark.slow

ARTICLE = "authorized-contacts"  # content/articles/accounts-and-access/authorized-contacts.md
ARTICLE_TITLE = "Authorised contacts on your account"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    site_packages: Path
    work: Path  # the working directory: a copy of content/ and nothing else
    env: dict[str, str]

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=self.work, env=self.env, capture_output=True, text=True, timeout=timeout
        )


def _clean_env() -> dict[str, str]:
    """No PORTAL_* setting (every default is exercised) and nothing that points Python
    at the repository."""
    drop = ("PORTAL_", "PYTHON", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def _pip(*args: str) -> None:
    """This venv's pip, offline."""
    command = [sys.executable, "-m", "pip", "-q", "--no-input", *args, "--no-index"]
    subprocess.run(command, check=True, timeout=120)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    dist, venv, work = base / "dist", base / "venv", base / "work"
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT))
    (wheel,) = dist.glob("support_portal-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    _pip("--python", str(python), "install", "--no-deps", str(wheel))
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "_project_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    shutil.copytree(CONTENT, work / "content")
    return Installed(wheel, venv, site_packages, work, _clean_env())


def test_the_wheel_holds_templates_static_and_migrations(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for path in (
        "kb/_data/templates/site/article.html",
        "kb/_data/templates/email",
        "kb/_data/static/css/site.css",
        "kb/_data/static/vendor/htmx-4.0.1/htmx.min.js",
        "portal/migrations/env.py",
        "portal/migrations/script.py.mako",
        "portal/migrations/versions/0001_wizard.py",
    ):
        assert path in names or any(n.startswith(path + "/") for n in names), path
    # every template and static file of the repository, no more and no fewer
    for top in ("templates", "static"):
        shipped = {
            n.removeprefix(f"kb/_data/{top}/") for n in names if n.startswith(f"kb/_data/{top}/")
        }
        in_repo = {
            p.relative_to(ROOT / top).as_posix() for p in (ROOT / top).rglob("*") if p.is_file()
        }
        assert shipped == in_repo, top


def test_the_sdist_holds_the_project_and_builds_the_same_wheel(
    installed: Installed, tmp_path: Path
) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (sdist,) = tmp_path.glob("support_portal-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    (unpacked,) = (p for p in tmp_path.iterdir() if p.is_dir())
    for path in (
        "pyproject.toml",
        "README.md",
        "templates/site/article.html",
        "static/css/site.css",
        "content/policy.yaml",
        "content/articles/accounts-and-access/authorized-contacts.md",
        "examples/accounts.yaml",
        "examples/kolmisoft/policy.yaml",
        "portal/migrations/script.py.mako",
        "tests/test_packaging.py",
    ):
        assert (unpacked / path).is_file(), path
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(unpacked))
    (wheel,) = (tmp_path / "dist").glob("support_portal-*.whl")
    from_sdist = set(zipfile.ZipFile(wheel).namelist())
    # (a file added or removed in the checkout while this module runs shows here too)
    assert from_sdist ^ set(zipfile.ZipFile(installed.wheel).namelist()) == set()


def test_portal_and_kb_come_from_the_wheel_only(installed: Installed) -> None:
    probe = (
        "import json, kb, portal, kb.paths as p;"
        "print(json.dumps([kb.__file__, portal.__file__, str(p.DEFAULT_TEMPLATES),"
        " str(p.DEFAULT_STATIC)]))"
    )
    result = installed.run(installed.bin("python"), "-c", probe)
    assert result.returncode == 0, result.stderr
    kb_file, portal_file, templates, static = json.loads(result.stdout)
    for path in (kb_file, portal_file, templates, static):
        assert Path(path).is_relative_to(installed.site_packages), path
        assert not Path(path).is_relative_to(ROOT), path
    assert Path(templates) == installed.site_packages / "kb" / "_data" / "templates"
    assert Path(static) == installed.site_packages / "kb" / "_data" / "static"


@pytest.fixture(scope="module")
def built(installed: Installed) -> Installed:
    result = installed.run(installed.bin("portal"), "build")
    assert result.returncode == 0, result.stdout + result.stderr
    return installed


def test_portal_build_renders_the_site_in_the_working_directory(built: Installed) -> None:
    site = built.work / "build" / "current" / "site"
    page = (site / "articles" / f"{ARTICLE}.html").read_text("utf-8")
    assert f"<h1>{ARTICLE_TITLE}</h1>" in page
    assert (site / "static" / "css" / "site.css").read_bytes() == (
        ROOT / "static" / "css" / "site.css"
    ).read_bytes()
    assert (site / "index.html").is_file()


# never through a proxy, whatever the environment says: the server is on 127.0.0.1
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Served:
    url: str
    log: Path  # the server's output, for the failure message

    def get(self, path: str) -> tuple[int, str, str]:
        """Status, content type and body of ``path``; a server error fails with the log."""
        try:
            with _DIRECT.open(self.url + path, timeout=10) as response:
                body = response.read().decode("utf-8")
                return response.status, response.headers.get("content-type", ""), body
        except urllib.error.HTTPError as error:
            pytest.fail(f"GET {path}: {error.code}\n{self.log.read_text('utf-8')[-4000:]}")


@pytest.fixture(scope="module")
def served(built: Installed) -> Iterator[Served]:
    """The installed ``portal serve``, with the default settings, in the working
    directory; stopped (its process group killed if need be) after the module."""
    log = built.work.parent / "serve.log"

    def command(port: int) -> list[str]:
        return [built.bin("portal"), "serve", "--host", "127.0.0.1", "--port", str(port)]

    with (
        log.open("w+b") as output,
        start_server(
            built.env,
            command=command,
            cwd=built.work,
            inherit_env=False,
            output=output,
            new_session=True,
            timeout=45,
        ) as server,
    ):
        yield Served(server.url, log)


def test_portal_serve_answers_from_the_installed_package(built: Installed, served: Served) -> None:
    status, _, home = served.get("/")
    assert status == 200
    assert f'href="articles/{ARTICLE}.html"' in home

    status, _, article = served.get(f"/articles/{ARTICLE}.html")
    assert status == 200
    assert f"<h1>{ARTICLE_TITLE}</h1>" in article

    # a dynamic page: the Jinja environment of the app found the shipped templates
    status, _, wizard = served.get("/request")
    assert status == 200
    assert "<h1>What do you need help with?</h1>" in wizard
    assert '<input type="hidden" name="csrf_token" value="' in wizard

    # the /static mount serves the shipped files
    status, content_type, css = served.get("/static/css/site.css")
    assert status == 200
    assert content_type.startswith("text/css")
    assert css == (ROOT / "static" / "css" / "site.css").read_text("utf-8")


def test_the_defaults_write_into_the_working_directory_not_site_packages(
    built: Installed, served: Served
) -> None:
    # serve generated the secret key and created the SQLite database: both under ./var
    assert served.get("/healthz")[0] == 200
    assert (built.work / "var" / "secret_key").is_file()
    assert (built.work / "var" / "portal.db").is_file()
    leftovers = [p for p in built.venv.rglob("*") if p.name in ("secret_key", "portal.db", "var")]
    assert leftovers == []
