"""The statutory return in a real browser: an LA officer who is not an approver builds the
return (the confirmation tick uses the GOV.UK error pattern) but cannot submit it; the approver
submits it through check your answers and the declaration, gets a reference, and a second
click or a repeat of the form makes no second version; a national admin authorises the LA
through its confirmation page (the clean school return is authorised, the other is listed in
one error summary), then sends a return back to the LA with a reason, which the LA's approver
reads on the return page. Pages are scanned by axe and saved to docs/screenshots/."""

from __future__ import annotations

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from keystage.engine import upn as upns
from keystage.returns.models import (
    CollectedReturn,
    CollectedReturnVersion,
    ReturnGeneration,
    ReturnSubmission,
)
from tests.browser.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def returns_site(site):
    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.orgs.models import LocalAuthority
    from keystage.submissions.models import PupilRecord

    # The seeded "clean" school's pupils get real UPNs, so the collector finds it clean.
    for n, p in enumerate(PupilRecord.objects.filter(school__urn="125000").order_by("pk"), 1):
        p.upn = upns.make("938", "2001", "16", f"{n:03d}")
        p.surname = f"CLEAN{chr(64 + n)}"  # no digits in a legal surname
        p.outcomes = {"reading": "EXS", "writing": "EXS", "maths": "GDS", "science": "EXS"}
        p.save()
    la938 = LocalAuthority.objects.get(code="938")
    do_create_member(
        "approver938", password=PASSWORD, role=Role.LA_OFFICER, la=la938, is_approver=True
    )
    do_create_member("national", password=PASSWORD, role=Role.NATIONAL_ADMIN)
    return site


def _sign_in_admin(page, site, username):
    sign_in(page, site, username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor sign-in")
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}"
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site['url']}/")


def test_approver_submits_non_approver_cannot_national_admin_authorises(
    browser, returns_site, check_page
):
    site = returns_site
    # An officer who is not an approver builds the return, confirming the open errors.
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, site, "officer938")
    page.get_by_role("link", name="Statutory return to the national collection").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Statutory return")
    main = page.locator("main")
    expect(main).to_contain_text("errors in West Sussex's data are still open")
    page.get_by_role("button", name="Build the return").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Tick the box to confirm")
    expect(page.locator("#confirm-error")).to_contain_text("Tick the box to confirm")
    summary.get_by_role("link").click()
    expect(page.locator("#confirm")).to_be_focused()
    page.get_by_label("Yes, write the return with these errors").check()
    page.get_by_role("button", name="Build the return").click()
    expect(main).to_contain_text("Return 1 written")
    expect(main).to_contain_text("938_KS1_2023_001.zip")
    expect(page.get_by_role("button", name="Submit return 1")).to_have_count(0)
    expect(main).to_contain_text("Only an approver of West Sussex can submit")
    page.context.close()

    # The approver submits it.
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, site, "approver938")
    page.goto(f"{site['url']}/ks1-2023/la/938/returns")
    page.get_by_role("button", name="Submit return 1 to the national collection").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Check your answers before submitting the return"
    )
    main = page.locator("main")
    expect(main.locator(".govuk-summary-list")).to_contain_text("3 schools")
    expect(main.locator(".govuk-summary-list")).to_contain_text("Queries without an explanation")
    submit = page.get_by_role("button", name="Accept and submit the return")
    expect(submit).to_have_attribute("data-prevent-double-click", "true")
    submit.click()  # the declaration is not ticked
    expect(page.locator(".govuk-error-summary")).to_contain_text("Tick the box to confirm")
    check_page(page, "returns-check-answers-error")
    page.get_by_label("I am an approver of West Sussex").check()
    check_page(page, "returns-check-answers")
    answers = page.url
    page.get_by_role("button", name="Accept and submit the return").dblclick()
    panel = page.locator(".govuk-panel--confirmation")
    expect(panel).to_contain_text("Return submitted")
    expect(panel).to_contain_text("KS1-2023-938-001")
    check_page(page, "returns-submitted")
    # Back to the form and submit it again: told it was submitted, nothing sent twice. (Its
    # pages are sent `no-store`, so the browser's Back asks to send the form again: open it.)
    page.goto(answers)
    if page.get_by_role("button", name="Accept and submit the return").count():
        page.get_by_label("I am an approver of West Sussex").check()
        page.get_by_role("button", name="Accept and submit the return").click()
    expect(page.locator(".govuk-panel--confirmation")).to_contain_text("KS1-2023-938-001")
    assert ReturnSubmission.objects.count() == 1
    schools = ReturnGeneration.objects.get().school_count
    assert CollectedReturnVersion.objects.count() == schools  # version 1 of each school, once
    assert set(CollectedReturn.objects.values_list("status", flat=True)) == {"submitted"}
    page.get_by_role("link", name="Back to the statutory return").click()
    main = page.locator("main")
    expect(main).to_contain_text("Return 1 was submitted: reference KS1-2023-938-001")
    expect(page.get_by_role("button", name="Submit return 1")).to_have_count(0)
    held = page.get_by_role("table", name="School returns the national collection holds")
    expect(held.locator("tr", has_text="9382001")).to_contain_text("Submitted")
    check_page(page, "returns-la")
    page.context.close()

    # The national admin sees every LA, and authorises the clean school return only.
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    _sign_in_admin(page, site, "national")
    page.get_by_role("link", name="National collection: every LA's return").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("National collection")
    expect(page.locator("main")).to_contain_text("Every LA (153)")
    check_page(page, "returns-national")
    page.get_by_role("link", name="938", exact=True).click()
    expect(page.locator("main")).to_contain_text("Returns in the national collection")
    check_page(page, "returns-collected-la")
    # Authorise the LA: a confirmation page first, then what could not be, in one summary.
    page.get_by_role("button", name="Authorise the school returns of West Sussex").click()
    main = page.locator("main")
    expect(main.locator("#will")).to_have_text("1 school return will be authorised")
    expect(main.locator("#will-not")).to_have_text("2 school returns will not be authorised")
    expect(main.locator(".govuk-warning-text")).to_contain_text("can be undone only")
    check_page(page, "returns-authorise-la")
    page.get_by_role("button", name="Authorise 1 school return").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("link")).to_have_count(2)  # one summary for both
    expect(summary).to_contain_text("(9382002) was not authorised")
    expect(page.locator("main")).to_contain_text("1 school return of West Sussex authorised")
    check_page(page, "returns-authorised-la")
    summary.get_by_role("link", name="(9382002)").click()
    expect(page.locator("main")).to_contain_text("KS1-")  # the collector's own findings
    expect(page.get_by_role("button", name="Authorise this return")).to_have_count(0)
    page.goto(f"{site['url']}/ks1-2023/national/la/938/9382001")
    main = page.locator("main")
    expect(main.locator(".govuk-summary-list")).to_contain_text("Authorised")
    expect(
        page.get_by_role("table", name="Every change of this return, newest first")
    ).to_contain_text("Authorised")
    check_page(page, "returns-collected-return")

    # Then sends it back: a reason is needed, and the LA reads it.
    page.get_by_role("button", name="Send back to the LA").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter why the return is sent back"
    )
    check_page(page, "returns-send-back-error")
    page.get_by_label("Send this return back to West Sussex").fill(
        "CLEANA's date of birth looks a year out: check it with the school and resubmit."
    )
    page.get_by_role("button", name="Send back to the LA").click()
    main = page.locator("main")
    expect(main).to_contain_text("is sent back to West Sussex")
    expect(main.locator(".govuk-summary-list")).to_contain_text("Sent back to the LA")
    expect(main.locator("#sent-back-reason")).to_contain_text("looks a year out")
    expect(page.get_by_role("button", name="Send back to the LA")).to_have_count(0)
    check_page(page, "returns-sent-back")
    page.context.close()

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, site, "approver938")
    page.goto(f"{site['url']}/ks1-2023/la/938/returns")
    expect(page.locator("#sent-back")).to_contain_text("9382001")
    expect(page.locator("#sent-back")).to_contain_text("looks a year out")
    check_page(page, "returns-la-sent-back")
    page.context.close()
