from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"
    verbose_name = "Incidents and COEs"

    def ready(self) -> None:
        from coe import checks  # noqa: F401  (registers the deploy checks)

        from . import lookups, postgres_times  # noqa: F401  (lookups registers `ilike` and `any_of`)

        postgres_times.connect()

        from . import history

        history.register()
