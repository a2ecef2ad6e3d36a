"""AI involvement: a first-class record of what an agent did and what let it."""

from django.db import models

from .vocab import (
    ActionClass,
    AIRole,
    AutonomyLevel,
    CsetAutonomy,
    GateType,
    PermissionScope,
    TriState,
)


class AIInvolvement(models.Model):
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="ai_involvements")
    agent_name = models.CharField(max_length=120)
    vendor = models.CharField(max_length=120, blank=True)
    role = models.CharField(max_length=20, choices=AIRole.choices)
    autonomy_level = models.CharField(max_length=2, choices=AutonomyLevel.choices, blank=True)

    # The approval gate and the permission scope are separate questions: an
    # agent can pass a gate and still hold too much (Azure SRE Agent docs).
    gate_present = models.CharField(max_length=10, choices=TriState.choices, default=TriState.UNKNOWN)
    gate_type = models.CharField(max_length=20, choices=GateType.choices, default=GateType.UNKNOWN)
    gate_bypassed = models.CharField(max_length=10, choices=TriState.choices, default=TriState.UNKNOWN)
    permissions_held = models.CharField(max_length=20, choices=PermissionScope.choices, default=PermissionScope.UNKNOWN)
    permissions_inherited = models.CharField(
        max_length=10,
        choices=TriState.choices,
        default=TriState.UNKNOWN,
        help_text="Were the permissions inherited from the human operator?",
    )

    action_taken = models.TextField(blank=True)
    action_class = models.CharField(max_length=20, choices=ActionClass.choices, blank=True)
    reversible = models.CharField(max_length=10, choices=TriState.choices, default=TriState.UNKNOWN)

    # OWASP LLM06:2025 Excessive Agency names three root causes.
    excessive_functionality = models.BooleanField(default=False)
    excessive_permissions = models.BooleanField(default=False)
    excessive_autonomy = models.BooleanField(default=False)

    evidence = models.ManyToManyField("incidents.Source", blank=True, related_name="ai_involvements")

    class Meta:
        ordering = ["incident", "id"]
        verbose_name = "AI involvement"

    def __str__(self) -> str:
        return f"{self.agent_name} ({self.get_role_display()})"

    @property
    def cset_autonomy(self) -> CsetAutonomy | None:
        if not self.autonomy_level:
            return None
        return AutonomyLevel(self.autonomy_level).cset

    @property
    def gate_failed(self) -> bool:
        """The gate was absent or bypassed: the dashboard's headline AI figure."""
        return self.gate_present == TriState.NO or self.gate_bypassed == TriState.YES


# The fields of an AI involvement record a source can be cited for, one source each.
CITABLE_AI_FIELDS = (
    "agent_name",
    "role",
    "autonomy_level",
    "gate_present",
    "gate_type",
    "gate_bypassed",
    "permissions_held",
    "permissions_inherited",
    "action_taken",
    "action_class",
    "reversible",
)


class AIFieldCitation(models.Model):
    """The source for one field of an AI involvement record ("the agent inherited the operator's
    permissions", says this report): each fact cited where it is stated."""

    involvement = models.ForeignKey(AIInvolvement, on_delete=models.CASCADE, related_name="citations")
    field = models.CharField(max_length=30, choices=[(name, name.replace("_", " ")) for name in CITABLE_AI_FIELDS])
    source = models.ForeignKey("incidents.Source", on_delete=models.PROTECT, related_name="ai_field_citations")

    class Meta:
        ordering = ["involvement", "field"]
        constraints = [models.UniqueConstraint(fields=["involvement", "field"], name="aifieldcitation_unique")]

    def __str__(self) -> str:
        return f"{self.field}: {self.source_id}"
