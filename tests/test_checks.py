"""`check --deploy` says when production would run on the development defaults."""

from coe import checks


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_embedded_database_is_flagged_for_a_deploy(settings):
    settings.EMBEDDED_DATABASE = True
    assert ids(checks.embedded_database(None)) == ["coe.W001"]
    settings.EMBEDDED_DATABASE = False
    assert checks.embedded_database(None) == []


def test_a_deploy_without_redis_is_flagged(settings):
    settings.REDIS_URL = ""
    assert ids(checks.shared_cache(None)) == ["coe.W002"]
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert checks.shared_cache(None) == []
