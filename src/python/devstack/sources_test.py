from pathlib import Path

from devstack.sources import SourceTree, modules

ROOT = Path("src/python")
SERVICES = ("calc", "log", "gateway")


def owners() -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): s for p, s in SourceTree(ROOT).owners(SERVICES).items()}


def test_a_services_own_files_restart_it_alone() -> None:
    found = owners()
    assert found["calc/summing.py"] == {"calc"}
    assert found["log/store/postgres.py"] == {"log"}
    assert found["web/app.py"] == found["gateway/openapi.py"] == {"gateway"}


def test_a_shared_layer_belongs_to_every_service_that_imports_it() -> None:
    found = owners()
    assert found["domain/numbers.py"] == found["launch/boot.py"] == set(SERVICES)
    assert found["domain/limits.py"] == {"log", "gateway"}  # calc has no use for it
    assert found["messaging/__init__.py"] == set(SERVICES)  # a package's init, on the way


def test_tests_and_tools_belong_to_no_service() -> None:
    found = owners()
    assert not {name for name in found if name.endswith("_test.py")}
    assert not {name for name in found if name.startswith("devstack/")}
    assert "calc/summing_test.py" not in {str(p.relative_to(ROOT)) for p in modules(ROOT).values()}


def test_a_new_import_is_seen_once_its_file_changes(tmp_path: Path) -> None:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "__init__.py").write_text("")
    (tmp_path / "svc" / "main.py").write_text("import json\n")
    (tmp_path / "shared.py").write_text("")
    tree = SourceTree(tmp_path)
    assert tmp_path / "shared.py" not in tree.files_of("svc")
    (tmp_path / "svc" / "main.py").write_text("import shared\nfrom werkzeug import Request\n")
    assert tmp_path / "shared.py" in tree.files_of("svc")
    assert tree.libraries_of("svc") == ["werkzeug", "werkzeug.Request"]
