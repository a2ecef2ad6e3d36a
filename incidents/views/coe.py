"""The COE: editor with autosave and conflict handling, review workflow, history and export."""

from __future__ import annotations

import difflib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.html import escape
from django.views.decorators.http import require_http_methods, require_POST

from incidents import services
from incidents.forms import (
    ActionItemFormSet,
    CoeSectionsForm,
    CommentForm,
    ReopenForm,
    apply_whys_action,
    whys_for_saving,
    whys_from_post,
)
from incidents.markdown import render_markdown
from incidents.models import ActionItem, CoeDocument, CoeRevision, ReviewComment, WorkflowError
from incidents.models.coe import SECTION_KEYS, SECTIONS, SECTIONS_BY_KEY
from incidents.models.vocab import CoeStatus

from .access import coe_for, incident_for, require

SECTION_TITLES = {**{s.key: s.title for s in SECTIONS}, "whys": "Five whys"}


def _can_edit(user, coe: CoeDocument) -> bool:
    return coe.status == CoeStatus.DRAFT and user.has_perm("incidents.change_coedocument")


def _initial_whys(whys: list[dict]) -> list[dict]:
    # A new COE starts with one empty chain of three links to fill in.
    return whys or [{"cause": "", "links": ["", "", ""]}]


def _comments_by_section(coe: CoeDocument, *, user, author_ids: set[int]) -> dict[str, list[ReviewComment]]:
    """Each section's threads, each marked with whether this user may resolve it (services.may_resolve)."""
    grouped: dict[str, list[ReviewComment]] = {}
    replies = Prefetch("replies", queryset=ReviewComment.objects.select_related("author"))
    writes_it = user.pk in author_ids or user.pk == coe.owner_id
    threads = coe.comments.select_related("author", "resolved_by").filter(reply_to__isnull=True)
    for comment in threads.prefetch_related(replies):
        comment.can_resolve = writes_it or comment.author_id == user.pk
        grouped.setdefault(comment.section, []).append(comment)
    return grouped


def _open_threads(comments: dict[str, list[ReviewComment]]) -> list[ReviewComment]:
    """The threads approval waits for, in the order of the document."""
    order = {key: n for n, key in enumerate((*SECTION_KEYS, "whys"))}
    threads = [c for thread in comments.values() for c in thread if c.resolved_at is None]
    return sorted(threads, key=lambda c: (order.get(c.section, len(order)), c.created_at, c.pk))


def _page_context(request, coe: CoeDocument, **extra) -> dict:
    # One query per relation, shared by the quality check and the template's
    # action item table, whatever the number of rows.
    prefetch_related_objects(
        [coe.incident],
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "source")),
        "timeline",
        "ai_involvements",
    )
    author_ids = set(coe.authors.values_list("pk", flat=True))
    report = services.coe_quality(coe, author_ids=tuple(author_ids))
    allowed_to_approve, approve_reason = coe.can_approve(request.user)
    comments = _comments_by_section(coe, user=request.user, author_ids=author_ids)
    return {
        "coe": coe,
        "incident": coe.incident,
        "sections": SECTIONS,
        "report": report,
        "comments": comments,
        "open_threads": _open_threads(comments),
        "has_comments": bool(comments),
        "comment_form": CommentForm(),
        "reopen_form": ReopenForm(),
        "can_edit": _can_edit(request.user, coe),
        "can_comment": request.user.has_perm("incidents.add_reviewcomment"),
        "can_approve": allowed_to_approve,
        "approve_reason": approve_reason,
        "is_approver": request.user.has_perm("incidents.approve_coedocument"),
        "coe_in_review": coe.status == CoeStatus.IN_REVIEW,
        "section_titles": SECTION_TITLES,
        **extra,
    }


def _editor_response(request, coe, *, form, formset, whys, status=200, **extra):
    context = _page_context(request, coe, form=form, formset=formset, whys=whys, **extra)
    sections = [(s, form[s.key], context["report"].messages_for(s.key)) for s in SECTIONS]
    context["section_fields"] = sections
    return TemplateResponse(request, "incidents/coe_editor.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def coe_page(request, key: str):
    """The editor for a draft (for people who may write), the document otherwise."""
    incident = incident_for(request.user, key)
    coe = CoeDocument.objects.filter(incident=incident).select_related("incident", "owner", "approver").first()
    if coe is None:
        if request.method == "POST":
            require(request.user, "incidents.add_coedocument")
            coe = services.coe_start(incident=incident, user=request.user)
            messages.success(request, "COE started from the template. Each section says what it should answer.")
            return redirect("incidents:coe", key=key)
        return TemplateResponse(request, "incidents/coe_missing.html", {"incident": incident})

    if not _can_edit(request.user, coe):
        if request.method == "POST" and coe.status != CoeStatus.DRAFT and _is_autosave(request):
            # Submitted while this editor was open: the status line says so, rather
            # than the whole document being swapped into it.
            return _save_status(request, coe, status=409, conflict=True)
        if request.method == "POST":
            return TemplateResponse(
                request,
                "incidents/coe_document.html",
                _page_context(request, coe, refused="This COE is not a draft you can edit."),
                status=409 if coe.status != CoeStatus.DRAFT else 403,
            )
        return TemplateResponse(request, "incidents/coe_document.html", _page_context(request, coe))

    items = ActionItem.objects.filter(incident=incident).select_related("owner").order_by("id")
    if request.method == "GET":
        form = CoeSectionsForm(initial={"base_version": coe.version, **{k: getattr(coe, k) for k in SECTION_KEYS}})
        formset = ActionItemFormSet(queryset=items, prefix="items")
        return _editor_response(request, coe, form=form, formset=formset, whys=_initial_whys(coe.whys))
    return _save(request, coe, items)


def _save(request, coe: CoeDocument, items):
    form = CoeSectionsForm(request.POST)
    formset = ActionItemFormSet(request.POST, queryset=items, prefix="items")
    whys = whys_from_post(request.POST)
    if action := request.POST.get("whys_action"):
        whys = apply_whys_action(whys, action)
    autosave = _is_autosave(request)

    if not form.is_valid():
        # Only a tampered base_version gets here; keep every word and say so.
        return _editor_response(request, coe, form=form, formset=formset, whys=whys, status=400)

    data = {**{k: form.cleaned_data[k] for k in SECTION_KEYS}, "whys": whys_for_saving(whys)}
    # Autosave keeps the prose and whys; action items wait for the Save button,
    # because a new row saved in the background would be created again by the
    # next autosave (the open form does not know the new row's id).
    items_valid = formset.is_valid()
    save_items = items_valid and not autosave
    try:
        with transaction.atomic():
            coe = services.coe_save(
                coe=coe, user=request.user, data=data, base_version=form.cleaned_data["base_version"]
            )
            if save_items:
                items_valid = _save_items(formset, coe.incident, user=request.user)
    except services.ConflictError as conflict:
        return _conflict_response(request, conflict.current, form=form, formset=formset, whys=whys, autosave=autosave)

    if autosave:
        return _autosave_status(request, coe, items_valid=items_valid)
    if not items_valid:
        messages.warning(request, "Sections saved. Action items are not saved until the marked fields are fixed.")
        form = CoeSectionsForm(initial={"base_version": coe.version, **data})
        return _editor_response(request, coe, form=form, formset=formset, whys=whys)
    if request.POST.get("whys_action"):
        # Show the chains as edited, empty rows included: reloading from the
        # saved whys (blank links dropped) would lose the row just added.
        form = CoeSectionsForm(initial={"base_version": coe.version, **data})
        formset = ActionItemFormSet(queryset=items.all(), prefix="items")
        return _editor_response(request, coe, form=form, formset=formset, whys=whys)
    messages.success(request, f"Saved (version {coe.version}).")
    return redirect("incidents:coe", key=coe.incident.key)


class _ItemsRefused(Exception):
    """A row the service refused: none of the table's changes are kept."""


def _save_items(formset, incident, *, user) -> bool:
    """Each changed, added or removed row of the action item table, through its service
    (closing an item there stamps its completion, as everywhere else). A row the service refuses
    (verified by the person who closed it, say) shows why beside its fields, and then no row is
    saved; returns whether they all were."""
    deleted = formset.deleted_forms
    refused = False
    try:
        with transaction.atomic():
            for form in formset.initial_forms:
                if form.instance.pk is None:
                    continue  # an id not among this incident's items (as Django's formset.save() skips it)
                if form in deleted:
                    services.action_item_delete(item=form.instance)
                elif form.has_changed():
                    saved = form.save_with(services.action_item_update, item=form.instance, user=user)
                    refused = refused or saved is None
            for form in formset.extra_forms:
                if form.has_changed() and form not in deleted:
                    saved = form.save_with(services.action_item_create, incident=incident, user=user)
                    refused = refused or saved is None
            if refused:
                raise _ItemsRefused
    except _ItemsRefused:
        return False
    return True


def _is_autosave(request) -> bool:
    return request.headers.get("X-Autosave") == "1"


def _save_status(request, coe: CoeDocument, *, status: int = 200, **context) -> HttpResponse:
    """The small status line of the editor: what an autosave request gets back."""
    html = render_to_string("incidents/coe_editor.html#save-status", {"coe": coe, **context}, request=request)
    return HttpResponse(html, status=status)


def _autosave_status(request, coe: CoeDocument, *, items_valid: bool) -> HttpResponse:
    """The small 'Saved at …' line, plus the new base version swapped in out of band."""
    return _save_status(request, coe, items_valid=items_valid, autosaved=True)


def _conflict_response(request, current: CoeDocument, *, form, formset, whys, autosave: bool):
    """Refuse the second save and show both versions; the user's text stays in the form."""
    mine = {k: form.cleaned_data.get(k, "") for k in SECTION_KEYS}
    conflicts = []
    for key in SECTION_KEYS:
        theirs = getattr(current, key)
        if (mine[key] or "").strip() != (theirs or "").strip():
            conflicts.append(
                {
                    "section": SECTIONS_BY_KEY[key],
                    "theirs": theirs,
                    "diff": _diff_html(theirs, mine[key], "Saved by someone else", "Yours"),
                }
            )
    if whys_for_saving(whys) != current.whys:
        conflicts.append({"section": None, "theirs_whys": current.whys})
    if autosave:
        return _save_status(request, current, status=409, conflict=True)
    # Rebase the form on the current version: saving again is the user's merge.
    data = request.POST.copy()
    data["base_version"] = str(current.version)
    rebased = CoeSectionsForm(data)
    rebased.is_valid()
    last = current.revisions.select_related("saved_by").first()
    return _editor_response(
        request,
        current,
        form=rebased,
        formset=formset,
        whys=whys,
        status=409,
        conflicts=conflicts,
        conflict_by=last.saved_by if last else None,
    )


def _diff_html(old: str, new: str, old_label: str, new_label: str) -> str:
    """A line diff as a small HTML table; both sides escaped."""
    rows = []
    for line in difflib.ndiff((old or "").splitlines(), (new or "").splitlines()):
        tag, text = line[:2], escape(line[2:])
        if tag == "? ":
            continue
        css = {"- ": "del", "+ ": "ins"}.get(tag, "same")
        label = {"- ": old_label, "+ ": new_label}.get(tag, "")
        rows.append(f'<tr class="diff-{css}"><th scope="row">{escape(label)}</th><td>{text or "&nbsp;"}</td></tr>')
    if not rows:
        return '<p class="muted">No difference.</p>'
    return '<table class="diff">' + "".join(rows) + "</table>"


@login_required
@require_POST
def coe_preview(request, key: str):
    """Render one section's Markdown exactly as the document will show it."""
    incident_for(request.user, key)
    field = request.POST.get("section", "")
    text = request.POST.get(field, "") if field in SECTION_KEYS else ""
    return HttpResponse(render_markdown(text) or '<p class="muted">Nothing to preview yet.</p>')


def _transition(request, key: str, step, *, perm: str, done: str) -> HttpResponse:
    """Run one workflow step; refusals become messages on the COE page.

    Visibility is checked before the permission: someone outside a restricted
    incident's group gets 404, never a 403 that would confirm it exists.
    """
    coe = coe_for(request.user, key)
    require(request.user, perm)
    try:
        step(coe)
    except services.SubmitRefused as refused:
        messages.error(request, "Not submitted. Fix these first:")
        for finding in refused.report.failing_required:
            for message in finding.messages:
                messages.error(request, f"{finding.rule} {finding.title}: {message}")
    except WorkflowError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done)
    return redirect("incidents:coe", key=key)


@login_required
@require_POST
def coe_submit(request, key: str):
    return _transition(
        request,
        key,
        lambda coe: services.coe_submit(coe=coe, user=request.user),
        perm="incidents.change_coedocument",
        done="Submitted for review. An approver who is not an author must approve it.",
    )


@login_required
@require_POST
def coe_approve(request, key: str):
    return _transition(
        request,
        key,
        lambda coe: services.coe_approve(coe=coe, user=request.user),
        perm="incidents.approve_coedocument",
        done="Approved. Publish it to share it with everyone who can see the incident.",
    )


@login_required
@require_POST
def coe_publish(request, key: str):
    return _transition(
        request,
        key,
        lambda coe: services.coe_publish(coe=coe, user=request.user),
        perm="incidents.approve_coedocument",
        done="Published.",
    )


@login_required
@require_POST
def coe_reopen(request, key: str):
    form = ReopenForm(request.POST)

    def reopen(coe):
        if form.has_error("reason", "max_length"):
            raise WorkflowError(f"Not reopened: {' '.join(form.errors['reason'])}")
        if not form.is_valid():
            raise WorkflowError("Say why the COE is reopened or sent back.")
        services.coe_return_to_draft(coe=coe, user=request.user, reason=form.cleaned_data["reason"])

    return _transition(
        request,
        key,
        reopen,
        perm="incidents.approve_coedocument",
        done="Back to draft. The history keeps every earlier version.",
    )


@login_required
@require_POST
def coe_comment(request, key: str):
    coe = coe_for(request.user, key)
    require(request.user, "incidents.add_reviewcomment")
    form = CommentForm(request.POST)
    if not form.is_valid():
        if form.has_error("body", "max_length"):
            messages.error(request, f"Comment not added: {' '.join(form.errors['body'])}")
        else:
            messages.error(request, "A comment needs a section and some text.")
        return redirect("incidents:coe", key=key)
    reply_to = None
    if form.cleaned_data.get("reply_to"):
        reply_to = get_object_or_404(ReviewComment, pk=form.cleaned_data["reply_to"], coe=coe)
    try:
        services.review_comment_add(
            coe=coe,
            user=request.user,
            section=form.cleaned_data["section"],
            body=form.cleaned_data["body"],
            reply_to=reply_to,
        )
    except WorkflowError as error:
        messages.error(request, str(error))
    return redirect(f"/incidents/{key}/coe/#comments-{reply_to.section if reply_to else form.cleaned_data['section']}")


@login_required
@require_POST
def coe_comment_resolve(request, key: str, comment_id: int):
    """Resolve a comment's thread, or open it again (resolved=0); in place with htmx."""
    coe = coe_for(request.user, key)
    comment = get_object_or_404(ReviewComment, pk=comment_id, coe=coe)
    resolved = request.POST.get("resolved", "1") != "0"
    try:
        comment = services.review_comment_resolve(comment=comment, user=request.user, resolved=resolved)
    except WorkflowError as error:
        if request.htmx:
            return _thread_response(request, coe, comment, error=str(error), status=409)
        messages.error(request, str(error))
        return redirect(f"/incidents/{key}/coe/#comments-{comment.section}")
    if not request.htmx:
        messages.success(request, "Comment resolved." if resolved else "Comment open again.")
        return redirect(f"/incidents/{key}/coe/#comment-{comment.pk}")
    return _thread_response(request, coe, comment)


def _thread_response(request, coe: CoeDocument, comment: ReviewComment, *, error: str = "", status: int = 200):
    """The thread as it is now (a refusal said inside it), and the list of what approval waits for (out of band)."""
    author_ids = set(coe.authors.values_list("pk", flat=True))
    comments = _comments_by_section(coe, user=request.user, author_ids=author_ids)
    [thread] = [c for c in comments.get(comment.section, []) if c.pk == comment.pk]
    context = {
        "coe": coe,
        "incident": coe.incident,
        "c": thread,
        "allow_reply": True,
        "resolve_error": error,
        "can_comment": request.user.has_perm("incidents.add_reviewcomment"),
        "open_threads": _open_threads(comments),
        "has_comments": True,
        "section_titles": SECTION_TITLES,
        "oob": True,
    }
    html = render_to_string("incidents/_comments.html#thread", context, request=request)
    html += render_to_string("incidents/_open_comments.html", context, request=request)
    return HttpResponse(html, status=status)


@login_required
def coe_history(request, key: str):
    coe = coe_for(request.user, key)
    revisions = list(coe.revisions.select_related("saved_by"))
    numbers = [r.number for r in revisions]
    context = {"coe": coe, "incident": coe.incident, "revisions": revisions, "diffs": None}
    old_n, new_n = request.GET.get("from"), request.GET.get("to")
    if old_n and new_n:
        by_number = {str(r.number): r for r in revisions}
        if old_n not in by_number or new_n not in by_number:
            context["error"] = "Pick two revisions from the list."
        else:
            old, new = by_number[old_n], by_number[new_n]
            context.update(old=old, new=new, diffs=_revision_diffs(old, new))
    elif len(numbers) >= 2:
        context["default_from"], context["default_to"] = numbers[1], numbers[0]
    return TemplateResponse(request, "incidents/coe_history.html", context)


def _revision_diffs(old: CoeRevision, new: CoeRevision) -> list[dict]:
    diffs = []
    for section in SECTIONS:
        before, after = old.data.get(section.key, ""), new.data.get(section.key, "")
        if before != after:
            diffs.append(
                {"title": section.title, "html": _diff_html(before, after, f"r{old.number}", f"r{new.number}")}
            )
    if old.data.get("whys") != new.data.get("whys"):
        diffs.append(
            {
                "title": "Whys",
                "html": _diff_html(
                    _whys_text(old.data.get("whys")),
                    _whys_text(new.data.get("whys")),
                    f"r{old.number}",
                    f"r{new.number}",
                ),
            }
        )
    return diffs


def _whys_text(whys) -> str:
    lines = []
    for chain in whys or []:
        lines.append(f"Cause: {chain.get('cause', '')}")
        lines.extend(f"  {n}. {link}" for n, link in enumerate(chain.get("links", []), start=1))
    return "\n".join(lines)


@login_required
def coe_export(request, key: str):
    coe = coe_for(request.user, key)
    items = list(coe.incident.action_items.select_related("owner", "source"))
    timeline = list(coe.incident.timeline.select_related("source"))
    text = render_to_string(
        "incidents/coe_export.md",
        {
            "coe": coe,
            "incident": coe.incident,
            "sections": coe.section_items(),
            "items": items,
            "timeline": timeline,
        },
    )
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{coe.incident.key}-COE.md"'
    return response
