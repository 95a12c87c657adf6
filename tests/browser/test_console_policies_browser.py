"""The Policies, Identity providers, Account settings and Credential report pages in Chromium, at
desktop width and at 390 px: every form is used as a person would (filters, set-default, deleting
a version and a policy after their confirmations, adding and deleting providers, the password
policy, STS tokens, the account alias, generating and downloading the credential report), and
what the page did is checked through the API. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.browser.axe import check_page
from tests.browser.conftest import console_url, screenshot
from tests.browser.test_console_policy_editor_browser import administrator, no_sideways_scroll, sign_in
from tests.e2e.harness import ACCOUNT_ID, Server
from tests.e2e.test_providers import SAML_METADATA

WIDTHS = [1200, 390]


def doc(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def signed_in(page: Any, server: Server, iam: Any, user: str, width: int) -> str:
    administrator(iam, user)
    page.set_viewport_size({"width": width, "height": 900})
    base = console_url(server)
    sign_in(page, base, user)
    return base


def confirm(page: Any, id: str, typed: str | None = None) -> None:
    """Open a kit confirmation, check it says what breaks, and confirm."""
    page.click(f"#{id}-open")
    assert page.inner_text(f"#{id}-breaks").strip()
    if typed is not None:
        page.fill(f"#{id}-typed", typed)
    page.click(f"#{id}-yes")


@pytest.mark.parametrize("width", WIDTHS)
def test_policies_list_versions_and_delete(page: Any, server: Server, iam: Any, width: int) -> None:
    base = signed_in(page, server, iam, f"web-policies-{width}", width)
    name = f"reports-{width}"
    arn = iam.create_policy(PolicyName=name, PolicyDocument=doc("s3:GetObject"))["Policy"]["Arn"]
    iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=doc("s3:GetObject", "s3:PutObject"), SetAsDefault=True
    )
    iam.create_user(UserName=f"reader-{width}")
    iam.attach_user_policy(UserName=f"reader-{width}", PolicyArn=arn)

    # The list: AWS managed policies by name, then customer managed ones in use.
    page.goto(f"{base}/policies")
    page.fill("#filter-q", "ReadOnlyAccess")
    page.select_option("#filter-type", "aws")
    page.click("#filter-apply")
    assert page.locator("#policies tr[data-policy='ReadOnlyAccess']").count() == 1
    assert page.locator(f"#policies tr[data-policy='{name}']").count() == 0
    page.fill("#filter-q", "")
    page.select_option("#filter-type", "customer")
    page.select_option("#filter-usage", "permissions")
    page.click("#filter-apply")
    row = page.locator(f"#policies tr[data-policy='{name}']")
    assert "Permissions policy (1)" in row.inner_text()
    no_sideways_scroll(page)
    screenshot(page, f"policies_list_{width}")

    # Its page: the summary of the default version, two versions, the user it is attached to.
    row.locator("a").click()
    page.wait_for_url("**/console/policies/view**")
    assert page.inner_text("#policy-arn") == arn
    assert "Limited: Read" in page.inner_text("#summary-body") and "Write" in page.inner_text("#summary-body")
    assert page.locator("#versions tr[data-version]").count() == 2
    assert f"reader-{width}" in page.inner_text("#entities-permissions")
    no_sideways_scroll(page)
    screenshot(page, f"policy_view_{width}")

    # v1 back as the default; then v2 deleted after its confirmation.
    page.click("#set-default-v1")
    page.wait_for_selector("#message")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    confirm(page, "delete-version-v2")
    page.wait_for_selector("#message")
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v1"]

    # Delete: the confirmation says who loses the permissions and wants the name typed.
    page.click("#delete-policy-open")
    assert "detaches it from 1" in page.inner_text("#delete-policy-breaks")
    page.fill("#delete-policy-typed", name)
    page.click("#delete-policy-yes")
    page.wait_for_url("**/console/policies?type=customer")
    assert "was deleted" in page.inner_text("#message")
    assert iam.list_attached_user_policies(UserName=f"reader-{width}")["AttachedPolicies"] == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=arn)


def test_an_aws_managed_policy_can_be_copied_not_deleted(page: Any, server: Server, iam: Any) -> None:
    base = signed_in(page, server, iam, "web-aws-policy", 1200)
    page.goto(f"{base}/policies/view?arn=arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert page.inner_text("#policy-type") == "AWS managed"
    assert page.locator("#delete-policy-open").count() == 0
    assert page.locator("#edit-policy").count() == 0
    page.click("#copy-policy")
    page.wait_for_url("**/console/policy-editor?copy=**")
    assert "Copied from ReadOnlyAccess" in page.inner_text("#message")
    assert "Statement" in page.input_value("#policy-document")


@pytest.mark.parametrize("width", WIDTHS)
def test_identity_providers(page: Any, server: Server, iam: Any, width: int) -> None:
    base = signed_in(page, server, iam, f"web-idp-{width}", width)
    page.goto(f"{base}/identity-providers")
    page.click("#add-provider")
    url = f"https://token-{width}.example.com"
    page.fill("#oidc-url", url)
    page.fill("#oidc-audiences", "sts.amazonaws.com")
    page.fill("#oidc-thumbprints", "not-a-thumbprint")
    page.click("#add-submit")
    assert "40 hexadecimal characters" in page.inner_text("#add-problems")
    assert page.input_value("#oidc-url") == url  # what was typed stays
    page.fill("#oidc-thumbprints", "9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
    page.click("#add-submit")
    page.wait_for_url("**/identity-providers/view**")
    arn = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token-{width}.example.com"
    assert page.inner_text("#provider-arn") == arn
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == [
        "sts.amazonaws.com"
    ]

    # Its audiences and thumbprints.
    page.fill("#new-audience", "deploy-tool")
    page.click("#add-audience")
    page.wait_for_selector("#message")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == [
        "sts.amazonaws.com",
        "deploy-tool",
    ]
    confirm(page, "remove-audience-1")
    page.wait_for_selector("#message")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["deploy-tool"]
    page.fill("#edit-thumbprints", "a" * 40 + "\n" + "b" * 40)
    page.click("#save-thumbprints")
    page.wait_for_selector("#message")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ThumbprintList"] == [
        "a" * 40,
        "b" * 40,
    ]

    # A role trusts it: the delete confirmation names the role.
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity"}
        ],
    }
    iam.create_role(RoleName=f"deploy-{width}", AssumeRolePolicyDocument=json.dumps(trust))
    page.reload()
    assert f"deploy-{width}" in page.inner_text("#provider-roles")
    page.click("#delete-provider-open")
    assert f"deploy-{width}" in page.inner_text("#delete-provider-breaks")
    no_sideways_scroll(page)
    screenshot(page, f"identity_provider_{width}")
    page.click("#delete-provider-yes")
    page.wait_for_url("**/console/identity-providers")
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == [] or all(
        p["Arn"] != arn for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    )

    # SAML, from its metadata.
    page.click("#add-provider")
    page.click("#kind-saml")
    page.fill("#saml-name", f"corp-{width}")
    if width == WIDTHS[0]:  # from the IdP's file
        page.set_input_files(
            "#saml-file",
            files=[{"name": "idp.xml", "mimeType": "text/xml", "buffer": SAML_METADATA.encode()}],
        )
        page.wait_for_selector("#saml-file-state:has-text('Read idp.xml')")
        assert page.input_value("#saml-metadata") == SAML_METADATA
    else:  # pasted
        page.fill("#saml-metadata", SAML_METADATA)
    page.click("#add-submit")
    page.wait_for_url("**/identity-providers/view**")
    assert page.inner_text("#provider-arn") == f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/corp-{width}"
    page.goto(f"{base}/identity-providers")
    assert page.locator(f"#providers tr[data-provider='corp-{width}']").count() == 1
    no_sideways_scroll(page)
    screenshot(page, f"identity_providers_{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_account_settings(page: Any, server: Server, iam: Any, width: int) -> None:
    base = signed_in(page, server, iam, f"web-settings-{width}", width)
    page.goto(f"{base}/account-settings")
    page.fill("#pp-length", "14")
    page.check("#pp-RequireSymbols")
    page.fill("#pp-age", "90")
    page.click("#password-policy-save")
    page.wait_for_selector("#message")
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert (
        policy["MinimumPasswordLength"] == 14 and policy["RequireSymbols"] and policy["MaxPasswordAge"] == 90
    )
    assert page.input_value("#pp-length") == "14"

    # Out of IAM's range: said in words, nothing changed.
    page.fill("#pp-length", "200")
    page.eval_on_selector("#pp-length", "e => e.removeAttribute('max')")  # past the browser's own check
    page.click("#password-policy-save")
    assert "from 6 to 128" in page.inner_text("#policy-problems")
    assert iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 14

    page.goto(f"{base}/account-settings")
    page.check("#sts-v2")
    page.click("#sts-save")
    page.wait_for_selector("#message")
    assert page.inner_text("#sts-state") == "valid in all Regions"
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2

    alias = f"acme-web-{width}"
    page.fill("#alias-name", alias)
    page.click("#alias-save")
    page.wait_for_selector("#message")
    assert page.inner_text("#alias-current") == alias
    assert iam.list_account_aliases()["AccountAliases"] == [alias]
    no_sideways_scroll(page)
    screenshot(page, f"account_settings_{width}")

    # Changing it says what stops working and wants that acknowledged.
    assert alias in page.inner_text("label[for='alias-understood']")
    page.fill("#alias-name", alias + "-b")
    page.check("#alias-understood")
    page.click("#alias-save")
    page.wait_for_selector("#message")
    assert iam.list_account_aliases()["AccountAliases"] == [alias + "-b"]
    confirm(page, "delete-alias")
    page.wait_for_selector("#message")
    assert iam.list_account_aliases()["AccountAliases"] == []
    confirm(page, "delete-password-policy")
    page.wait_for_selector("#message")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_account_password_policy()
    page.check("#sts-v1")
    page.click("#sts-save")


@pytest.mark.parametrize("width", WIDTHS)
def test_credential_report(page: Any, server: Server, iam: Any, width: int) -> None:
    # One user for both widths: a report is kept four hours, so the second run sees the first's.
    user = "web-report"
    if width == WIDTHS[0]:
        administrator(iam, user)
    page.set_viewport_size({"width": width, "height": 900})
    base = console_url(server)
    sign_in(page, base, user)
    page.goto(f"{base}/credential-report")
    page.click("#generate-report")
    page.wait_for_selector("#credential-report")
    row = page.locator(f"#credential-report tr[data-user='{user}']")
    assert "true" in row.inner_text()  # its password
    assert page.locator("#credential-report tr[data-user='<root_account>']").count() == 1
    no_sideways_scroll(page)
    screenshot(page, f"credential_report_{width}")
    with page.expect_download() as downloaded:
        page.click("#download-report")
    content = Path(downloaded.value.path()).read_text(encoding="utf-8")
    assert content.startswith("user,arn,user_creation_time,")
    assert f"\n{user},arn:aws:iam::{ACCOUNT_ID}:user/{user}," in content


def test_every_page_passes_axe_and_fits_a_phone(page: Any, server: Server, iam: Any) -> None:
    """axe-core finds no serious or critical violation on these pages, at 1280 and 390 px, and
    nothing is wider than a phone (the kit's check_page)."""
    base = signed_in(page, server, iam, "web-axe", 1280)
    arn = iam.create_policy(PolicyName="axe-policy", PolicyDocument=doc("s3:GetObject"))["Policy"]["Arn"]
    oidc = iam.create_open_id_connect_provider(Url="https://axe.example.com", ClientIDList=["a"])
    iam.generate_credential_report()
    pages = {
        "policy-editor": "/policy-editor",
        "policies": "/policies?type=customer",
        "policy": f"/policies/view?arn={arn}",
        "identity-providers": "/identity-providers",
        "identity-provider-add-oidc": "/identity-providers/add",
        "identity-provider-add-saml": "/identity-providers/add?kind=saml",
        "identity-provider": f"/identity-providers/view?arn={oidc['OpenIDConnectProviderArn']}",
        "account-settings": "/account-settings",
        "credential-report": "/credential-report",
    }
    for name, path in pages.items():
        page.goto(base + path)
        check_page(page, name)
    # The visual builder with a service's actions, resources and conditions open.
    page.goto(f"{base}/policy-editor")
    page.click("#tab-visual")
    service = page.locator("#builder-statements section.statement").first.get_by_label("Service", exact=True)
    service.fill("s3")
    service.press("Enter")
    page.wait_for_selector("details.level")
    check_page(page, "policy-builder")


def test_the_builder_works_from_the_keyboard(page: Any, server: Server, iam: Any) -> None:
    base = signed_in(page, server, iam, "web-keys", 1280)
    page.goto(f"{base}/policy-editor")
    page.focus("#tab-json")
    page.keyboard.press("ArrowLeft")  # tabs move with the arrow keys, as a tab list does
    assert page.evaluate("document.activeElement.id") == "tab-visual"
    assert page.get_attribute("#tab-visual", "aria-selected") == "true"
    statement = page.locator("#builder-statements section.statement").first
    statement.get_by_label("Service", exact=True).wait_for()
    page.keyboard.press("Tab")  # Remove statement
    page.keyboard.press("Tab")  # Effect
    page.keyboard.press("Tab")  # Service
    assert page.evaluate("document.activeElement.getAttribute('list')") == "builder-services"
    page.keyboard.press("Control+A")
    page.keyboard.type("sqs")
    page.keyboard.press("Enter")  # commits the field; does not submit the form
    statement.get_by_label("All sqs actions (sqs:*)").wait_for()
    assert page.url.endswith("/policy-editor")
    page.keyboard.press("Tab")  # All sqs actions
    page.keyboard.press("Space")
    written = json.loads(page.input_value("#policy-document"))
    assert written["Statement"][0]["Action"] == "sqs:*"


def test_edit_a_policy_as_a_new_version(page: Any, server: Server, iam: Any) -> None:
    base = signed_in(page, server, iam, "web-edit", 1200)
    arn = iam.create_policy(PolicyName="edited-in-browser", PolicyDocument=doc("s3:GetObject"))["Policy"][
        "Arn"
    ]
    page.goto(f"{base}/policies/view?arn={arn}")
    page.click("#edit-policy")
    page.wait_for_url("**/console/policy-editor?arn=**")
    assert "Edit policy" in page.inner_text("h1")
    text = page.input_value("#policy-document")
    page.fill("#policy-document", text.replace("s3:GetObject", "s3:ListBucket"))
    page.wait_for_selector("#summary-body tr[data-service='s3']:has-text('Limited: List')")
    page.click("#create")
    page.wait_for_url("**/console/policies/view**")
    assert page.inner_text("#message") == "Version v2 was saved."
    assert page.locator("#versions tr[data-version='v2'] .badge").inner_text() == "Default"
    stored = iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert stored["IsDefaultVersion"] and stored["Document"]["Statement"][0]["Action"] == ["s3:ListBucket"]
