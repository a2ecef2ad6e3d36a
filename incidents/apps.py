from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"
    verbose_name = "Incidents and COEs"

    def ready(self) -> None:
        from . import postgres_times

        postgres_times.connect()
