"""EYFS profile files through `keystage` without its web pages (issue 19, the engine part):
`keystage --collection eyfsp-2024 import` stores each child's 17 goals with the profile's
rules applied; an EYFSP file imported as KS1 (or a KS1 file as EYFSP) is refused naming the
collection it belongs to; `generate --collection eyfsp-2024` writes files that import."""

from __future__ import annotations

import csv
import io
import json

import pytest

from keystage.cli import main
from tests.builders import eyfsp_pupil, pupil, write_ctf, write_register

pytestmark = pytest.mark.django_db
GOALS = [f"elg{n:02d}" for n in range(1, 18)]


@pytest.fixture
def ready(db, tmp_path, settings, capsys):
    settings.UPLOAD_STORE = tmp_path / "store"
    assert main(["init"]) == 0
    assert main(["schools", "load", str(write_register(tmp_path / "schools.csv"))]) == 0
    capsys.readouterr()
    return tmp_path


def test_a_profile_file_goes_into_the_eyfsp_collection_with_its_rules(ready, capsys):
    from keystage.submissions.models import PupilRecord

    partly = ["2"] * 17
    partly[3] = "A"
    write_ctf(ready / "9382001_FSP_938LLLL_001.xml", [
        eyfsp_pupil(1, year=2024), eyfsp_pupil(2, "A", year=2024),
        eyfsp_pupil(3, partly, year=2024),
    ])  # fmt: skip
    code = main(["--collection", "eyfsp-2024", "import", "--format", "json",
                 str(ready / "9382001_FSP_938LLLL_001.xml")])  # fmt: skip
    [result] = json.loads(capsys.readouterr().out)
    assert code == 0 and (result["outcome"], result["pupils"], result["errors"]) == (
        "accepted",
        3,
        1,
    )
    stored = PupilRecord.objects.filter(collection__code="eyfsp-2024").order_by("upn")
    assert [sorted(p.outcomes) for p in stored] == [GOALS] * 3
    assert [p.nc_year for p in stored] == ["R"] * 3
    assert main(["--collection", "eyfsp-2024", "errors", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["rule"], r["field"], r["value"]) for r in rows] == [("EYF-R03", "elg04", "A")]


def test_a_profile_file_imported_as_ks1_is_refused_naming_its_collection(ready, capsys):
    from keystage.submissions.models import PupilRecord

    write_ctf(ready / "9382001_CTF_938LLLL_001.xml", [eyfsp_pupil(1), eyfsp_pupil(2)])
    assert main(["import", str(ready / "9382001_CTF_938LLLL_001.xml")]) == 1
    err = capsys.readouterr().err
    assert "the file holds early years foundation stage profile results (34 rows)" in err, err
    assert "import it into Early years foundation stage profile 2023 instead" in err
    write_ctf(ready / "ks1.xml", [pupil(1), pupil(2)])
    assert main(["--collection", "eyfsp-2023", "import", str(ready / "ks1.xml")]) == 1
    assert "import it into Key stage 1 teacher assessment 2023" in capsys.readouterr().err
    assert not PupilRecord.objects.exists()


def test_generated_profile_files_import(ready, tmp_path, capsys):
    out = tmp_path / "generated"
    assert main(["--collection", "eyfsp-2024", "generate", "--out", str(out), "--la", "857",
                 "--error-rate", "0", "--format", "json"]) == 0  # fmt: skip
    [made] = json.loads(capsys.readouterr().out)
    assert made["las"] == 1 and made["pupils"] > 300
    assert main(["schools", "load", str(out / "schools.csv")]) == 0
    capsys.readouterr()
    assert main(["--collection", "eyfsp-2024", "import", "--format", "json", str(out / "857")]) == 0
    files = json.loads(capsys.readouterr().out)
    assert {f["outcome"] for f in files} == {"accepted"}
    assert sum(f["pupils"] for f in files) == made["pupils"]
