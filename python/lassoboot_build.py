"""In-tree PEP 517 build backend for the lassoboot wheel.

It packs `lassoboot/*.py` and the already built binary (``$LASSOBOOT_BIN``, else
``../dist/lassoboot``) into one wheel tagged ``py3-none-manylinux_2_35_<arch>``: the binary is the
package's engine, as ruff's and uv's wheels carry theirs. Nothing is compiled and nothing is
downloaded, so ``pip wheel`` works offline. The wheel is reproducible: entries sorted, fixed
timestamps, permissions 0644 (0755 for the binary).

The tag is ``manylinux_2_35``: the binary needs glibc 2.35 and GCC 12's libstdc++ (Debian 12,
Ubuntu 22.04 and newer) and no library outside the manylinux policy (SQLite and zlib are linked
in, the HTTPS client is SwiftNIO's, not libcurl); ``scripts/python-test.sh`` checks the claim
with auditwheel.
"""

import base64
import hashlib
import os
import platform
import tarfile
import zipfile

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = (1980, 1, 1, 0, 0, 0)


def _project():
    path = os.path.join(HERE, "pyproject.toml")
    if tomllib is not None:
        with open(path, "rb") as f:
            return tomllib.load(f)["project"]
    # A minimal reader for the keys used here (Python 3.9/3.10 without tomllib).
    project, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section == "project" and "=" in line and not line.startswith("#"):
                key, value = (s.strip() for s in line.split("=", 1))
                if value.startswith('"'):
                    project[key] = value.strip('"')
    project.setdefault("dependencies", ["pandas>=1.3"])
    return project


def _binary():
    path = os.environ.get("LASSOBOOT_BIN") or os.path.join(HERE, "..", "dist", "lassoboot")
    path = os.path.abspath(path)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"lassoboot_build: no lassoboot binary at {path}; build it first (bash scripts/release.sh) "
            "or point LASSOBOOT_BIN at one")
    return path


def _tag():
    machine = platform.machine().lower() or "x86_64"
    return f"py3-none-manylinux_2_35_{machine}"


def _metadata(project):
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
        f"Requires-Python: {project.get('requires-python', '>=3.9')}",
        "License: Apache-2.0",
    ]
    lines += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    readme = os.path.join(HERE, "README.md")
    body = ""
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme) as f:
            body = f.read()
    return "\n".join(lines) + "\n\n" + body


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write(zf, name, data, mode=0o644):
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = _project()
    name, version = project["name"], project["version"]
    dist_info = f"{name}-{version}.dist-info"
    files = []
    package = os.path.join(HERE, "lassoboot")
    for entry in sorted(os.listdir(package)):
        if entry.endswith(".py"):
            with open(os.path.join(package, entry), "rb") as f:
                files.append((f"lassoboot/{entry}", f.read(), 0o644))
    with open(_binary(), "rb") as f:
        files.append(("lassoboot/bin/lassoboot", f.read(), 0o755))
    files.append((f"{dist_info}/METADATA", _metadata(project).encode(), 0o644))
    files.append((f"{dist_info}/WHEEL", (
        "Wheel-Version: 1.0\nGenerator: lassoboot_build\nRoot-Is-Purelib: false\n" f"Tag: {_tag()}\n").encode(), 0o644))
    scripts = project.get("scripts", {"lassoboot": "lassoboot.__main__:main"})
    files.append((f"{dist_info}/entry_points.txt",
                  ("[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())).encode(), 0o644))
    record = [_record_line(n, d) for n, d, _ in files] + [f"{dist_info}/RECORD,,"]
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), 0o644))
    filename = f"{name}-{version}-{_tag()}.whl"
    path = os.path.join(wheel_directory, filename)
    with zipfile.ZipFile(path + ".tmp", "w") as zf:
        for n, d, mode in files:
            _write(zf, n, d, mode)
    os.replace(path + ".tmp", path)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    base = f"{project['name']}-{project['version']}"
    path = os.path.join(sdist_directory, base + ".tar.gz")

    def clean(info):
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    with tarfile.open(path, "w:gz") as tar:
        for entry in ["pyproject.toml", "README.md", "lassoboot_build.py", "lassoboot"]:
            tar.add(os.path.join(HERE, entry), arcname=f"{base}/{entry}", filter=clean)
    return base + ".tar.gz"
