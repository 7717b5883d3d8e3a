"""Login, the shell, the language switch, the workspace switch, jobs and the audit log."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from ascolto.accounts.models import User
from ascolto.core.actors import Actor
from ascolto.core.jobs import job_create, job_finish, job_progress, job_start
from ascolto.customers import services
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.customers.factories import CustomerFactory
from tests.ui.conftest import login

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    "url",
    [
        reverse("home"),
        reverse("customers:list"),
        reverse("customers:detail", args=[1]),
        reverse("customers:timeline", args=[1]),
        reverse("customers:orders", args=[1]),
        reverse("customers:audit", args=[1]),
        reverse("job_list"),
        reverse("job_detail", args=[1]),
        reverse("audit_log"),
    ],
)
def test_pages_ask_for_a_login(client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sign_in_leads_to_the_customer_list(client: Client, agent: User) -> None:
    agent.save()  # UserFactory does not persist the password it sets

    page = client.get(reverse("login"))
    response = client.post(
        reverse("login"), {"username": agent.username, "password": PASSWORD}, follow=True
    )

    assert page.status_code == 200
    assert 'autocomplete="current-password"' in page.content.decode()
    assert response.redirect_chain[-1][0] == reverse("customers:list")
    assert "<h1>Customers</h1>" in response.content.decode()


def test_wrong_password_is_refused_with_a_message(client: Client, agent: User) -> None:
    agent.save()

    response = client.post(reverse("login"), {"username": agent.username, "password": "nope"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_out_needs_a_post_and_ends_the_session(agent_client: Client) -> None:
    response = agent_client.post(reverse("logout"))

    assert response.status_code == 302
    assert agent_client.get(reverse("customers:list")).status_code == 302


def test_shell_shows_workspace_modules_and_language_switch(agent_client: Client, workspace) -> None:  # type: ignore[no-untyped-def]
    html = agent_client.get(reverse("customers:list")).content.decode()

    assert workspace.name in html
    for module in ("Inbox", "Help center", "Surveys", "Analytics", "Engagement"):
        assert module in html
    for page in (
        "inbox:console",
        "helpcenter_staff:list",
        "surveys_staff:list",
        "analytics:overview",
    ):
        assert f'href="{reverse(page)}"' in html
    assert 'aria-current="page">Customers<' in html
    for code in ("en", "it", "he"):
        assert f'name="language" value="{code}"' in html
    assert 'name="workspace"' not in html  # one workspace: no switcher


def test_language_switch_saves_the_locale_and_renders_hebrew_right_to_left(  # type: ignore[no-untyped-def]
    agent_client: Client, agent
):
    response = agent_client.post(
        reverse("set_language"), {"language": "he", "next": reverse("customers:list")}
    )
    html = agent_client.get(reverse("customers:list")).content.decode()

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:list")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "he"
    agent.refresh_from_db()
    assert agent.locale == "he"
    assert '<html lang="he" dir="rtl">' in html
    assert "<h1>לקוחות</h1>" in html


def test_saved_language_follows_the_user_to_a_new_browser(agent) -> None:  # type: ignore[no-untyped-def]
    agent.locale = "it"
    agent.save()
    browser = Client()

    browser.post(reverse("login"), {"username": agent.username, "password": PASSWORD})
    html = browser.get(reverse("customers:list")).content.decode()

    assert '<html lang="it" dir="ltr">' in html
    assert "<h1>Clienti</h1>" in html


def test_saved_language_wins_over_an_old_cookie(agent) -> None:  # type: ignore[no-untyped-def]
    agent.locale = "he"
    agent.save()
    browser = login(Client(), agent)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"

    html = browser.get(reverse("customers:list")).content.decode()

    assert '<html lang="he" dir="rtl">' in html


def test_signing_in_sets_the_saved_language_cookie(client: Client, agent) -> None:  # type: ignore[no-untyped-def]
    agent.locale = "he"
    agent.save()

    response = client.post(reverse("login"), {"username": agent.username, "password": PASSWORD})

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "he"


def test_language_switch_works_on_the_login_page_with_a_cookie(client: Client) -> None:
    response = client.post(
        reverse("set_language"), {"language": "it", "next": reverse("login")}, follow=True
    )

    html = response.content.decode()
    assert '<html lang="it" dir="ltr">' in html
    assert "Accedi" in html
    assert "Nome utente" in html


def test_language_switch_refuses_unknown_languages_and_foreign_redirects(  # type: ignore[no-untyped-def]
    agent_client: Client, agent
):
    unknown = agent_client.post(reverse("set_language"), {"language": "xx"})
    foreign = agent_client.post(
        reverse("set_language"), {"language": "it", "next": "https://evil.example/"}
    )

    assert unknown.status_code == 400
    agent.refresh_from_db()
    assert agent.locale == "it"
    assert foreign["Location"] == reverse("home")


def test_workspace_switch_shows_the_other_workspace(client: Client, workspace) -> None:  # type: ignore[no-untyped-def]
    second = WorkspaceFactory(name="Zeta shop")
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user)
    MembershipFactory(workspace=second, user=user)
    CustomerFactory(workspace=workspace, name="First customer")
    CustomerFactory(workspace=second, name="Second customer")
    login(client, user)

    before = client.get(reverse("customers:list")).content.decode()
    switched = client.post(reverse("switch_workspace"), {"workspace": second.pk})
    after = client.get(reverse("customers:list")).content.decode()

    assert 'name="workspace"' in before
    assert "First customer" in before
    assert "Second customer" not in before
    assert switched.status_code == 302
    assert "Second customer" in after
    assert "First customer" not in after


def test_workspace_switch_to_a_foreign_workspace_is_404(  # type: ignore[no-untyped-def]
    agent_client: Client, other_workspace
):
    foreign = agent_client.post(reverse("switch_workspace"), {"workspace": other_workspace.pk})
    garbage = agent_client.post(reverse("switch_workspace"), {"workspace": "abc"})

    assert foreign.status_code == 404
    assert garbage.status_code == 400


def test_user_without_a_workspace_is_told_so(client: Client) -> None:
    login(client, UserFactory())

    response = client.get(reverse("customers:list"))

    assert response.status_code == 403
    assert "not a member of any workspace" in response.content.decode()


def test_job_page_polls_while_running_and_stops_when_done(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, agent, htmx
):
    job = job_create(
        workspace=workspace,
        kind="import.customers",
        params={"file": "c.csv"},
        created_by_id=agent.pk,
    )
    job_start(job=job, total=200)
    job_progress(job=job, done=50)

    page = agent_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    running = agent_client.get(reverse("job_detail", args=[job.pk]), **htmx).content.decode()
    job.refresh_from_db()
    job.progress_done = 200
    job_finish(job=job, result={"created": 180, "errors": [{"row": 7, "error": "bad email"}]})
    done = agent_client.get(reverse("job_detail", args=[job.pk]), **htmx).content.decode()

    assert "<html" in page
    assert 'value="25"' in page
    assert "<html" not in running
    assert 'hx-trigger="every 1s"' in running
    assert "50 of 200 done" in running
    assert "hx-trigger" not in done
    assert 'data-status="succeeded"' in done
    assert "180" in done
    assert '<th scope="col">row</th>' in done
    assert '<td dir="auto">bad email</td>' in done


def test_jobs_of_another_workspace_are_hidden(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, other_workspace
):
    mine = job_create(workspace=workspace, kind="import.orders", params={})
    theirs = job_create(workspace=other_workspace, kind="import.secret", params={})

    listing = agent_client.get(reverse("job_list")).content.decode()

    assert f"import.orders #{mine.pk}" in listing
    assert "import.secret" not in listing
    assert agent_client.get(reverse("job_detail", args=[theirs.pk])).status_code == 404


def test_audit_log_shows_this_workspace_changes_only(  # type: ignore[no-untyped-def]
    agent_client: Client, workspace, other_workspace, actor
):
    services.customer_create(workspace=workspace, actor=actor, name="Visible Person")
    services.customer_create(
        workspace=other_workspace, actor=Actor.system("import"), name="Hidden Person"
    )

    html = agent_client.get(reverse("audit_log")).content.decode()

    assert "Customer created" in html
    assert "Visible Person" in html
    assert "Hidden Person" not in html
