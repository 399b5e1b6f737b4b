import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_shots(site, national_admin, signed_in_as, page, axe_scan, tmp_path):
    from keystage.reports.facts import rebuild_facts
    from keystage.submissions.actions import get_collection
    from keystage.submissions.importing import import_paths
    from tests.app.test_gap_groups import CAMDEN, SCHOOL_A, SCHOOL_B
    from tests.builders import write_ctf

    files = [
        write_ctf(tmp_path / "a.xml", SCHOOL_A),
        write_ctf(tmp_path / "b.xml", SCHOOL_B, estab="2002"),
        write_ctf(tmp_path / "c.xml", CAMDEN, la="202", estab="2003"),
    ]
    import_paths([str(f) for f in files], jobs=1)
    rebuild_facts(get_collection())
    signed_in_as(page, "national")
    url = site["url"] + "/ks1-2023/reports/school/9382001/gap?subject=reading&measure=met"
    for width in (1280, 320):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        page.wait_for_load_state("networkidle")
        for img in page.locator("img.keystage-chart").all():
            img.scroll_into_view_if_needed()
            img.evaluate(
                "img => img.complete ? null : new Promise(d => img.addEventListener('load', d))"
            )
        page.screenshot(path=f"/tmp/i18-gaps/gap-school-{width}.png", full_page=True)
        sizes = page.evaluate(
            """() => [...document.querySelectorAll('img.keystage-chart')].map(i => [i.clientWidth, i.naturalWidth])"""
        )
        print("\nWIDTH", width, sizes)
        axe_scan(page, f"gap-{width}")
