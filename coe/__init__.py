# Import the Celery app at start-up so @shared_task binds to it.
from .celery import app as celery_app

__all__ = ["celery_app"]
