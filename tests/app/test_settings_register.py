"""The register of early-years settings (`keystage settings load`, issue 19): PVI settings held
beside the schools under their 6-digit early-years URN, expected by the EYFS profile's
collections only; rows that cannot be used are skipped naming their line and what is wrong."""

from __future__ import annotations

import pytest

from keystage.cli import main
from keystage.orgs.models import ExpectedSchool, School

pytestmark = pytest.mark.django_db

REGISTER = """URN,LA (code),SettingName,SettingStatus,OpenDate,CloseDate
512345,938,Little Acorns Nursery,Open,01-09-2015,
612346,938,Busy Bees Pre-school,,,
712347,938,Closed Before The Year,Closed,01-09-2010,31-07-2023
123456,938,A School URN,Open,,
51234,938,Too Short,Open,,
712348,999,Nowhere,Open,,
712349,938,,Open,,
712350,938,Odd Date,Open,someday,
"""


def test_settings_are_loaded_beside_the_schools_and_expected_by_the_profile(loaded, tmp_path,
                                                                           capsys):  # fmt: skip
    path = tmp_path / "settings.csv"
    path.write_text(REGISTER, encoding="utf-8")
    assert main(["settings", "load", str(path)]) == 1  # some rows skipped
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}: line 5: skipped: URN '123456' is not a setting's 6-digit early-years URN "
        "(starting 5, 6 or 7)",
        f"{path}: line 6: skipped: URN '51234' is not a setting's 6-digit early-years URN "
        "(starting 5, 6 or 7)",
        f"{path}: line 7: skipped: LA 999 is not an English LA of 2023",
        f"{path}: line 8: skipped: URN 712349: the setting has no name",
    ], err
    settings = School.objects.filter(estab="").order_by("urn")
    assert [(s.urn, s.laestab, s.la.code, s.status_name) for s in settings] == [
        ("512345", "512345", "938", "Open"), ("612346", "612346", "938", "Open"),
        ("712347", "712347", "938", "Closed"), ("712350", "712350", "938", "Open"),
    ]  # fmt: skip
    assert settings.get(urn="712350").open_date is None  # "someday" is no date: kept without
    expected = sorted(ExpectedSchool.objects.filter(school__estab="").values_list(
        "school__urn", "collection"))  # fmt: skip
    # Open settings in every EYFSP year; the one that closed in July 2023 in 2023 only (open
    # during 2022/23, closed before 2023/24); no KS1 or phonics collection expects a setting.
    by_urn: dict[str, list[str]] = {}
    for urn, code in expected:
        by_urn.setdefault(urn, []).append(code)
    assert by_urn["512345"] == ["eyfsp-2023", "eyfsp-2024", "eyfsp-2025"]
    assert by_urn["612346"] == ["eyfsp-2023", "eyfsp-2024", "eyfsp-2025"]
    assert by_urn["712347"] == ["eyfsp-2023"]
    # Loading again changes nothing; the schools register is untouched by it.
    schools = School.objects.exclude(estab="").count()
    assert main(["settings", "load", "--format", "json", str(path)]) == 1
    assert '"created": 0' in capsys.readouterr().out
    assert School.objects.filter(estab="").count() == 4
    assert School.objects.exclude(estab="").count() == schools


def test_a_schools_register_is_no_settings_register(loaded, tmp_path, capsys, register_file):
    assert main(["settings", "load", str(register_file)]) == 1
    err = capsys.readouterr().err
    assert "missing required column SettingName" in err and "docs/cli.md" in err
    assert not School.objects.filter(estab="").exists()
