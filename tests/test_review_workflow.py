"""The review workflow talks: who hears of each step, exactly once, and what approval waits for.

Notices go through the reminder outbox: mail to Django's locmem outbox, webhooks to a small
HTTP server on 127.0.0.1 (tests/test_reminders.py's Hook), the Celery tasks run eagerly, and
nothing is sent before the step's transaction commits.
"""

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client

from incidents import reminders, review_notices, services, tasks
from incidents.models import (
    ApiToken,
    CoeDocument,
    Incident,
    NotificationPreference,
    ReminderLog,
    WorkflowError,
)
from incidents.models.vocab import CoeStatus, ReminderChannel, ReminderKind, ReminderState
from incidents.quality import QualityReport
from incidents.roles import APPROVERS, REVIEWERS

from .factories import CoeDocumentFactory, GroupFactory, IncidentFactory, TeamFactory, UserFactory
from .test_reminders import Hook

QUEUE = "/incidents/reviews/"


@pytest.fixture
def notice_settings(settings):
    settings.SITE_URL = "https://coe.example.com"
    settings.REMINDER_CHANNELS = ["email", "webhook"]
    settings.REMINDER_WEBHOOK_TIMEOUT_SECONDS = 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


@pytest.fixture
def eager(notice_settings):
    """.delay() runs the task in this process: the relay, then each delivery."""
    conf = tasks.deliver_reminder.app.conf
    before = conf.task_always_eager
    conf.task_always_eager = True
    yield
    conf.task_always_eager = before


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


def member(role: str, username: str):
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def people(roles):
    """rita writes the COE; arun approves for the Payments team, ada for nobody in particular."""
    return {
        "rita": member(REVIEWERS, "rita"),
        "sam": member(REVIEWERS, "sam"),
        "arun": member(APPROVERS, "arun"),
        "ada": member(APPROVERS, "ada"),
        "olga": member(REVIEWERS, "olga"),
    }


@pytest.fixture
def team(people, hook):
    team = TeamFactory(name="Payments", webhook_url=hook.url)
    team.members.add(people["arun"], people["rita"])
    return team


@pytest.fixture
def passing_quality(monkeypatch):
    """Every COE passes the quality check: these tests are about who hears of a step, not about the rules."""
    monkeypatch.setattr(services.coe, "coe_quality", lambda coe, **kwargs: QualityReport(findings=[]))


@pytest.fixture
def draft(people, team, passing_quality):
    """A draft of rita's, which sam has written in too (two authors); rita owns it."""
    incident = IncidentFactory(title="Card payments declined", team=team)
    coe = services.coe_start(incident=incident, user=people["rita"])
    coe.authors.add(people["sam"])
    return coe


def step(django_capture_on_commit_callbacks, service, **kwargs):
    """Run a service and commit it: notices are delivered by the tasks queued on commit."""
    with django_capture_on_commit_callbacks(execute=True):
        return service(**kwargs)


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def coe_url(coe: CoeDocument, tail: str = "") -> str:
    return f"/incidents/{coe.incident.key}/coe/{tail}"


# 1. Who hears of each step ---------------------------------------------------------


def test_submit_goes_to_the_approvers_of_the_team_once_committed(
    eager, people, draft, hook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.coe_submit(coe=draft, user=people["rita"])
        # Claimed with the step (arun's mail, the team's chat), sent only once it commits.
        assert ReminderLog.objects.filter(state=ReminderState.CLAIMED).count() == 2
        assert mail.outbox == []
        assert hook.requests == []

    # arun approves for the incident's team; ada does not, and the authors may not approve it.
    assert recipients() == ["arun@example.com"]
    [message] = mail.outbox
    key = draft.incident.key
    assert message.subject == f"{key}: rita submitted the COE for review"
    assert f'{key} "Card payments declined"' in message.body
    assert f"https://coe.example.com/incidents/{key}/coe/" in message.body
    assert "https://coe.example.com/incidents/reviews/" in message.body
    [(html, _)] = message.alternatives
    assert f'<a href="https://coe.example.com/incidents/{key}/coe/">Open the COE</a>' in html
    [chat] = hook.requests
    assert chat["json"]["title"] == message.subject
    assert chat["json"]["text"].startswith("*Payments: rita submitted the COE for review*")
    rows = ReminderLog.objects.filter(kind=ReminderKind.COE_SUBMITTED)
    assert sorted(rows.values_list("channel", "state")) == [
        (ReminderChannel.EMAIL, ReminderState.SENT),
        (ReminderChannel.WEBHOOK, ReminderState.SENT),
    ]
    assert {row.coe_id for row in rows} == {draft.pk}


def test_submit_goes_to_every_approver_but_the_authors_when_the_team_has_none(
    eager, people, draft, django_capture_on_commit_callbacks
):
    draft.incident.team.members.remove(people["arun"])
    ben = member(APPROVERS, "ben")
    draft.authors.add(ben)  # an approver who wrote in it cannot approve it: not asked to

    step(django_capture_on_commit_callbacks, services.coe_submit, coe=draft, user=people["rita"])

    assert recipients() == ["ada@example.com", "arun@example.com"]


def test_submit_by_an_approver_never_asks_the_submitter(eager, people, draft, django_capture_on_commit_callbacks):
    step(django_capture_on_commit_callbacks, services.coe_submit, coe=draft, user=people["arun"])
    # arun acted, and is the team's only approver: every other approver is asked.
    assert recipients() == ["ada@example.com"]


def test_each_later_step_goes_to_the_authors_and_owner_never_to_who_acted(
    eager, people, draft, hook, django_capture_on_commit_callbacks
):
    rita, sam, arun = people["rita"], people["sam"], people["arun"]
    run = lambda service, **kwargs: step(django_capture_on_commit_callbacks, service, **kwargs)  # noqa: E731
    run(services.coe_submit, coe=draft, user=rita)
    mail.outbox.clear()

    question = run(services.review_comment_add, coe=draft, user=arun, section="impact", body="Retries counted?")
    assert recipients() == ["rita@example.com", "sam@example.com"]
    assert mail.outbox[0].subject == f"{draft.incident.key}: arun commented on the COE (Impact)"
    assert "Retries counted?" in mail.outbox[0].body
    mail.outbox.clear()

    # An answer goes to the authors and owner but the one answering, and to whoever asked.
    run(services.review_comment_add, coe=draft, user=sam, section="impact", body="Once each.", reply_to=question)
    assert recipients() == ["arun@example.com", "rita@example.com"]
    assert mail.outbox[0].subject == f"{draft.incident.key}: sam answered a comment on the COE (Impact)"
    mail.outbox.clear()

    run(services.coe_return_to_draft, coe=draft, user=arun, reason="Add the mobile numbers")
    assert recipients() == ["rita@example.com", "sam@example.com"]
    assert mail.outbox[0].subject == f"{draft.incident.key}: arun sent the COE back to its authors"
    assert "Add the mobile numbers" in mail.outbox[0].body
    mail.outbox.clear()

    run(services.coe_submit, coe=draft, user=sam)
    run(services.review_comment_resolve, comment=question, user=sam)
    mail.outbox.clear()
    run(services.coe_approve, coe=draft, user=arun)
    assert recipients() == ["rita@example.com", "sam@example.com"]
    assert mail.outbox[0].subject == f"{draft.incident.key}: arun approved the COE"
    mail.outbox.clear()

    run(services.coe_publish, coe=draft, user=arun)
    assert recipients() == ["rita@example.com", "sam@example.com"]
    assert mail.outbox[0].subject == f"{draft.incident.key}: arun published the COE"
    mail.outbox.clear()

    run(services.coe_return_to_draft, coe=draft, user=people["ada"], reason="The totals changed")
    assert recipients() == ["rita@example.com", "sam@example.com"]
    assert mail.outbox[0].subject == f"{draft.incident.key}: ada reopened the COE as a draft"
    assert "The totals changed" in mail.outbox[0].body

    kinds = list(ReminderLog.objects.order_by("id").values_list("kind", "channel"))
    # The team's chat hears of every step but the comments.
    assert [kind for kind, channel in kinds if channel == ReminderChannel.WEBHOOK] == [
        ReminderKind.COE_SUBMITTED,
        ReminderKind.COE_RETURNED,
        ReminderKind.COE_SUBMITTED,
        ReminderKind.COE_APPROVED,
        ReminderKind.COE_PUBLISHED,
        ReminderKind.COE_REOPENED,
    ]
    assert len(hook.requests) == 6


def test_the_incident_owner_hears_when_the_coe_has_no_owner(eager, people, draft, django_capture_on_commit_callbacks):
    dee = UserFactory(username="dee")
    CoeDocument.objects.filter(pk=draft.pk).update(owner=None, status=CoeStatus.IN_REVIEW)
    Incident.objects.filter(pk=draft.incident_id).update(owner=dee)
    draft = CoeDocument.objects.get(pk=draft.pk)

    step(django_capture_on_commit_callbacks, services.coe_return_to_draft, coe=draft, user=people["arun"], reason="x")

    assert recipients() == ["dee@example.com", "rita@example.com", "sam@example.com"]


# 2. Exactly once, opt-out, restricted incidents --------------------------------------


def test_each_notice_is_sent_once_however_often_the_tasks_run(notice_settings, people, draft, hook):
    services.coe_submit(coe=draft, user=people["rita"])  # not eager: claimed only
    queued = tasks.dispatch_reminders.apply().get()
    assert queued == 2
    rows = list(ReminderLog.objects.values_list("pk", flat=True))
    for pk in rows * 2:  # every delivery task runs twice (a redelivered message, say)
        tasks.deliver_reminder.apply(args=[pk])
    assert tasks.dispatch_reminders.apply().get() == 0

    assert recipients() == ["arun@example.com"]
    assert len(hook.requests) == 1
    assert set(ReminderLog.objects.values_list("state", flat=True)) == {ReminderState.SENT}
    # The same event claimed again (a retried step) claims nothing.
    revision = draft.revisions.first()
    again = review_notices.notify(
        draft,
        kind=ReminderKind.COE_SUBMITTED,
        event=review_notices.revision_event(revision),
        recipients=review_notices.submit_recipients(draft, actor=people["rita"]),
    )
    assert again == []
    # Mail carries its idempotency key as the Message-ID, as every reminder does.
    log = ReminderLog.objects.get(channel=ReminderChannel.EMAIL)
    assert str(log.idempotency_key) in mail.outbox[0].extra_headers["Message-ID"]


def test_opted_out_people_hear_nothing(eager, people, draft, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(user=people["sam"], reminders_opt_out=True)
    NotificationPreference.objects.create(user=people["arun"], reminders_opt_out=True)

    step(django_capture_on_commit_callbacks, services.coe_submit, coe=draft, user=people["rita"])
    assert recipients() == []  # arun opted out; the team has an approver, so nobody else is asked
    step(
        django_capture_on_commit_callbacks,
        services.review_comment_add,
        coe=draft,
        user=people["ada"],
        section="summary",
        body="Shorter?",
    )
    assert recipients() == ["rita@example.com"]


def test_a_restricted_incident_is_told_only_to_people_who_may_see_it(
    eager, people, roles, hook, passing_quality, django_capture_on_commit_callbacks
):
    rita, arun, ada = people["rita"], people["arun"], people["ada"]
    group = GroupFactory(name="fraud-response")
    rita.groups.add(group)
    ada.groups.add(group)
    team = TeamFactory(name="Fraud", webhook_url=hook.url)
    team.members.add(arun)  # the team's approver is outside the incident's group
    incident = IncidentFactory(title="Card data exposure", restricted=True, access_group=group, team=team)
    coe = services.coe_start(incident=incident, user=rita)
    outsider_author = people["olga"]
    coe.authors.add(outsider_author)  # an author since removed from the group must not hear of it either

    step(django_capture_on_commit_callbacks, services.coe_submit, coe=coe, user=rita)
    assert recipients() == ["ada@example.com"]
    step(
        django_capture_on_commit_callbacks,
        services.review_comment_add,
        coe=coe,
        user=ada,
        section="summary",
        body="Which cards?",
    )
    assert recipients() == ["ada@example.com", "rita@example.com"]
    assert hook.requests == []  # a chat's audience is unknown: restricted incidents stay out of it
    assert not ReminderLog.objects.filter(recipient__in=[arun, outsider_author]).exists()


# 3. Comments: resolved, and approval waits for them ----------------------------------------


@pytest.fixture
def in_review(people, draft, notice_settings):
    services.coe_submit(coe=draft, user=people["rita"])
    draft.refresh_from_db()
    return draft


def test_approval_is_refused_while_a_comment_is_open_and_says_which(people, in_review):
    arun, rita = people["arun"], people["rita"]
    question = services.review_comment_add(
        coe=in_review, user=arun, section="root_cause", body="Which dashboard shows this?"
    )
    services.review_comment_add(coe=in_review, user=rita, section="root_cause", body="Errors.", reply_to=question)

    with pytest.raises(services.OpenCommentsError) as refused:
        services.coe_approve(coe=in_review, user=arun)
    assert str(refused.value) == (
        "Not approved: 1 review comment is still open. Resolve it first: "
        "Root cause (arun: “Which dashboard shows this?”)."
    )
    assert isinstance(refused.value, WorkflowError)
    in_review.refresh_from_db()
    assert (in_review.status, in_review.approver) == (CoeStatus.IN_REVIEW, None)

    services.review_comment_resolve(comment=question, user=rita)
    question.refresh_from_db()
    assert question.resolved_by == rita
    assert question.resolved_at is not None
    services.coe_approve(coe=in_review, user=arun)
    in_review.refresh_from_db()
    assert in_review.status == CoeStatus.APPROVED


def test_a_reopened_comment_holds_approval_again(people, in_review):
    arun = people["arun"]
    comment = services.review_comment_add(coe=in_review, user=arun, section="summary", body="Shorter?")
    services.review_comment_resolve(comment=comment, user=arun)
    services.review_comment_resolve(comment=comment, user=arun, resolved=False)
    comment.refresh_from_db()
    assert (comment.resolved_at, comment.resolved_by) == (None, None)
    with pytest.raises(services.OpenCommentsError, match="Summary"):
        services.coe_approve(coe=in_review, user=arun)


def test_who_may_resolve(people, in_review):
    arun, ada, rita, sam, olga = (people[n] for n in ("arun", "ada", "rita", "sam", "olga"))
    comment = services.review_comment_add(coe=in_review, user=arun, section="summary", body="Shorter?")
    answer = services.review_comment_add(coe=in_review, user=rita, section="summary", body="Done.", reply_to=comment)
    for someone in (ada, olga):  # another approver, a reviewer who did not write it
        with pytest.raises(WorkflowError, match="Only the COE's authors and owner, or whoever wrote the comment"):
            services.review_comment_resolve(comment=comment, user=someone)
    with pytest.raises(WorkflowError, match="a thread is resolved as a whole"):
        services.review_comment_resolve(comment=answer, user=rita)
    for someone in (arun, rita, sam):  # the commenter, the owner, an author
        services.review_comment_resolve(comment=comment, user=someone, resolved=False)
        services.review_comment_resolve(comment=comment, user=someone)
        comment.refresh_from_db()
        assert comment.resolved_by == someone


def test_the_pages_show_open_and_resolved_comments_and_resolve_in_place(people, in_review):
    arun, rita = Client(), Client()
    arun.force_login(people["arun"])
    rita.force_login(people["rita"])
    comment = services.review_comment_add(coe=in_review, user=people["arun"], section="impact", body="Retries?")

    page = arun.get(coe_url(in_review)).content.decode()
    assert "Approval waits for 1 open comment:" in page
    assert f'<a href="#comment-{comment.pk}">Impact</a>: arun, “Retries?”' in page
    # The approver wrote it, so may resolve it too; rita's page offers it as well.
    assert 'hx-post="' + coe_url(in_review, f"comments/{comment.pk}/resolve/") in page
    refused = arun.post(coe_url(in_review, "approve/"), follow=True).content.decode()
    assert "Not approved: 1 review comment is still open. Resolve it first: Impact (arun: “Retries?”)." in refused

    response = rita.post(
        coe_url(in_review, f"comments/{comment.pk}/resolve/"), {"resolved": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<article class="comment is-resolved" id="comment-{comment.pk}">' in html
    assert 'Resolved</span> <span class="small muted">by rita' in html
    assert '<div id="open-comments" class="open-comments" hx-swap-oob="true"' in html
    assert "Every review comment is resolved." in html
    assert ">Reopen<" in html

    page = arun.get(coe_url(in_review)).content.decode()
    assert "Approval waits for" not in page
    response = arun.post(coe_url(in_review, "approve/"))
    assert response.status_code == 302
    in_review.refresh_from_db()
    assert in_review.status == CoeStatus.APPROVED


def test_resolving_without_htmx_redirects_and_refusals_are_messages(people, in_review):
    olga = Client()
    olga.force_login(people["olga"])
    comment = services.review_comment_add(coe=in_review, user=people["arun"], section="impact", body="Retries?")
    url = coe_url(in_review, f"comments/{comment.pk}/resolve/")

    response = olga.post(url, follow=True)
    assert "Only the COE&#x27;s authors and owner, or whoever wrote the comment, can resolve it." in (
        response.content.decode()
    )
    # In place, the thread stays and says why.
    refused = olga.post(url, HTTP_HX_REQUEST="true")
    assert refused.status_code == 409
    html = refused.content.decode()
    assert f'<article class="comment" id="comment-{comment.pk}">' in html
    assert '<p class="errorlist" role="alert">Only the COE&#x27;s authors and owner' in html
    comment.refresh_from_db()
    assert comment.resolved_at is None

    rita = Client()
    rita.force_login(people["rita"])
    response = rita.post(url)
    assert response.status_code == 302
    assert response["Location"] == coe_url(in_review) + f"#comment-{comment.pk}"
    comment.refresh_from_db()
    assert comment.resolved_by == people["rita"]
    # A comment of another COE is not found through this one.
    other = CoeDocumentFactory(incident=IncidentFactory())
    assert rita.post(f"/incidents/{other.incident.key}/coe/comments/{comment.pk}/resolve/").status_code == 404


def test_a_restricted_coes_comment_cannot_be_resolved_by_outsiders(people, roles, passing_quality, notice_settings):
    group = GroupFactory(name="fraud-response")
    people["rita"].groups.add(group)
    coe = services.coe_start(incident=IncidentFactory(restricted=True, access_group=group), user=people["rita"])
    comment = services.review_comment_add(coe=coe, user=people["rita"], section="summary", body="Note")
    olga = Client()
    olga.force_login(people["olga"])
    assert olga.post(coe_url(coe, f"comments/{comment.pk}/resolve/")).status_code == 404


# 4. Waiting for my review ---------------------------------------------------------------


@pytest.fixture
def queue(people, team, passing_quality, notice_settings):
    """COEs in every state; arun may approve exactly two of those in review."""
    rita, arun = people["rita"], people["arun"]

    def coe(title, *, status=CoeStatus.IN_REVIEW, by=rita, **incident):
        made = services.coe_start(incident=IncidentFactory(title=title, **incident), user=by)
        if status != CoeStatus.DRAFT:
            services.coe_submit(coe=made, user=by)
        if status == CoeStatus.APPROVED:
            services.coe_approve(coe=made, user=people["ada"])
        return made

    secret_group = GroupFactory(name="secret")
    rita.groups.add(secret_group)
    return {
        "team": coe("Payments outage", team=team),
        "other": coe("Search latency"),
        "own": coe("Arun's own", by=arun),
        "draft": coe("Still a draft", status=CoeStatus.DRAFT),
        "approved": coe("Already approved", status=CoeStatus.APPROVED),
        "hidden": coe("Hidden from arun", restricted=True, access_group=secret_group),
    }


def test_the_queue_lists_exactly_what_the_approver_may_approve(people, queue, client_for):
    page = client_for(people["arun"]).get(QUEUE)
    assert page.status_code == 200
    html = page.content.decode()
    rows = page.context["coes"]
    assert [c.incident.title for c in rows] == ["Payments outage", "Search latency"]  # oldest submission first
    for absent in ("Arun&#x27;s own", "Still a draft", "Already approved", "Hidden from arun"):
        assert absent not in html
    assert "Your team" in html
    assert f'href="/incidents/{queue["team"].incident.key}/coe/"' in html
    # The navigation counts them for approvers.
    assert 'Waiting for my review <span class="badge nav-count">2</span>' in html


def test_the_queue_is_for_approvers(people, queue, client_for):
    response = client_for(people["rita"]).get(QUEUE)
    assert response.status_code == 403
    page = client_for(people["rita"]).get("/incidents/").content.decode()
    assert "Waiting for my review" not in page


def test_the_queue_page_query_count_does_not_grow(people, queue, client_for, django_assert_num_queries):
    client = client_for(people["arun"])
    client.get(QUEUE)
    # 1 session, 2 user, 3-4 the user's and groups' permissions, 5 the user's teams,
    # 6 the COEs in review with incident, team, owner and open comments, 7 the navigation's count
    with django_assert_num_queries(7):
        client.get(QUEUE)
    for n in range(3):
        services.coe_submit(
            coe=services.coe_start(incident=IncidentFactory(), user=people["rita"]), user=people["rita"]
        )
        services.review_comment_add(
            coe=CoeDocument.objects.latest("id"), user=people["ada"], section="summary", body=f"{n}"
        )
    with django_assert_num_queries(7):
        assert len(client.get(QUEUE).context["coes"]) == 5


# 5. The incident list by COE status --------------------------------------------------------


def test_the_list_page_and_the_api_filter_by_coe_status(people, queue, client_for):
    IncidentFactory(title="No COE at all")
    arun = people["arun"]
    page = client_for(arun)

    def titles(query: str) -> set[str]:
        response = page.get(f"/incidents/?{query}")
        assert response.status_code == 200
        return {incident.title for incident in response.context["page_obj"]}

    assert titles("coe_status=none") == {"No COE at all"}
    assert titles("coe_status=draft") == {"Still a draft"}
    assert titles("coe_status=approved&coe_status=none") == {"Already approved", "No COE at all"}
    assert titles("coe_status=in_review") == {"Payments outage", "Search latency", "Arun's own"}  # not the hidden one
    html = page.get("/incidents/?coe_status=bogus").content.decode()
    assert "Select a valid choice. bogus is not one of the available choices." in html

    _, plain = ApiToken.issue(user=arun, name="tests", scope="read")
    api = Client(headers={"Authorization": f"Bearer {plain}"})
    response = api.get("/api/v1/incidents/?coe_status=in_review&coe_status=none")
    assert response.status_code == 200
    assert {row["title"] for row in response.json()["results"]} == {
        "Payments outage",
        "Search latency",
        "Arun's own",
        "No COE at all",
    }
    response = api.get("/api/v1/incidents/?coe_status=bogus")
    assert response.status_code == 400
    assert "coe_status" in response.content.decode()


def test_the_navigation_count_reads_the_coes_in_review_from_their_index(people, queue):
    from django.db import connection

    from incidents.views.reviews import in_review_for

    counted = in_review_for(people["arun"]).order_by().values("pk")
    sql, params = counted.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "coedocument_in_review_idx" in plan


def test_the_navigation_count_in_one_query_whatever_the_page_read_before(
    people, queue, django_assert_num_queries, client_for
):
    from django.contrib.auth import get_user_model

    from incidents.views.reviews import waiting_count

    fresh = lambda name: get_user_model().objects.get(username=name)  # noqa: E731  (no permissions read yet)
    arun, rita = fresh("arun"), fresh("rita")
    with django_assert_num_queries(1):  # may approve, and how many wait: one statement
        assert waiting_count(arun) == 2
    with django_assert_num_queries(1):
        assert waiting_count(rita) is None
    ada = fresh("ada")  # approved one of them, wrote none: all three in review wait for her, the hidden one aside
    assert waiting_count(ada) == 3
    ada.has_perm("incidents.view_incident")  # permissions read: only the count is asked
    with django_assert_num_queries(1):
        assert waiting_count(ada) == 3
    rita.has_perm("incidents.view_incident")
    with django_assert_num_queries(0):
        assert waiting_count(rita) is None
    # A page that reads no permissions shows it too.
    assert 'Waiting for my review <span class="badge nav-count">2</span>' in (
        client_for(people["arun"]).get("/search/").content.decode()
    )


def test_a_notice_is_withheld_if_the_incident_was_restricted_before_it_went_out(notice_settings, people, draft, hook):
    services.coe_submit(coe=draft, user=people["rita"])  # claimed for arun and the team's chat, not sent yet
    group = GroupFactory(name="fraud-response")
    people["rita"].groups.add(group)
    Incident.objects.filter(pk=draft.incident_id).update(restricted=True, access_group=group)

    for pk in reminders.dispatch():
        reminders.attempt_delivery(pk)

    assert mail.outbox == []
    assert hook.requests == []
    errors = sorted(ReminderLog.objects.values_list("state", "error"))
    assert errors == [
        (ReminderState.FAILED, "Withheld: the incident is restricted, and a chat's audience is unknown"),
        (ReminderState.FAILED, "Withheld: the recipient may no longer see the incident"),
    ]
