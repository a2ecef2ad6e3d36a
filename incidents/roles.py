"""The three roles, as Django groups with the permissions each needs.

reviewers write incidents and COEs; approvers also review and approve COEs
(never their own: the two-person rule is checked on the COE itself);
leadership reads everything they may see. Kept in code so a migration and
the tests build the same groups.
"""

REVIEWERS = "reviewers"
APPROVERS = "approvers"
LEADERSHIP = "leadership"

_WRITTEN_BY_REVIEWERS = [
    "incident",
    "timelineevent",
    "impactfigure",
    "incidentfactor",
    "aiinvolvement",
    "claim",
    "source",
    "coedocument",
    "actionitem",
    "reviewcomment",
]
_READ_ONLY = ["control", "team", "service", "region", "tag", "coerevision"]


def _codenames_for(role: str) -> set[str]:
    view_all = {f"view_{m}" for m in _WRITTEN_BY_REVIEWERS + _READ_ONLY}
    if role == LEADERSHIP:
        return view_all
    write = {f"{verb}_{m}" for m in _WRITTEN_BY_REVIEWERS for verb in ("add", "change")}
    write |= {"add_tag", "add_region", "add_service", "delete_timelineevent", "delete_actionitem"}
    if role == REVIEWERS:
        return view_all | write
    if role == APPROVERS:
        return view_all | write | {"approve_coedocument"}
    raise ValueError(role)


ROLES = (REVIEWERS, APPROVERS, LEADERSHIP)


def ensure_roles(group_model, permission_model) -> None:
    """Create or update the role groups (idempotent)."""
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = permission_model.objects.filter(content_type__app_label="incidents", codename__in=_codenames_for(role))
        group.permissions.set(wanted)
