"""Where requests go: region hosts, base_url as a host root, workspace hosts, and the key kept secret."""

from __future__ import annotations

import pytest

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.settings import Secret, Settings
from qwen_jupyter.engine.routing import route


@pytest.mark.parametrize(("region", "host"), [
    ("beijing", "https://dashscope.aliyuncs.com"),
    ("singapore", "https://dashscope-intl.aliyuncs.com"),
    ("virginia", "https://dashscope-us.aliyuncs.com"),
    ("hongkong", "https://cn-hongkong.dashscope.aliyuncs.com"),
])
def test_region_hosts(region, host):
    settings = Settings(region=region)
    assert settings.compatible_url == host + "/compatible-mode/v1"
    assert settings.native_url == host + "/api/v1"
    assert settings.responses_url == host + "/compatible-mode/v1"


def test_base_url_is_a_host_root_for_every_api():
    settings = Settings(base_url="http://127.0.0.1:8765/", region="singapore")
    assert settings.compatible_url == "http://127.0.0.1:8765/compatible-mode/v1"
    assert settings.native_url == "http://127.0.0.1:8765/api/v1"
    legacy = Settings(base_url="http://127.0.0.1:8765", responses_legacy_path=True)
    assert legacy.responses_url == "http://127.0.0.1:8765/api/v2/apps/protocols/compatible-mode/v1"


def test_workspace_hosts_and_frankfurt():
    assert Settings(region="frankfurt", workspace="ws1").host == "https://ws1.eu-central-1.maas.aliyuncs.com"
    with pytest.raises(QwenError, match="workspace"):
        _ = Settings(region="frankfurt").host


def test_unknown_region_and_api_are_clear_errors():
    with pytest.raises(QwenError, match="Unknown region 'mars'"):
        Settings(region="mars")
    with pytest.raises(QwenError, match="choose one of openai, responses, dashscope"):
        Settings(api="anthropic")


def test_environment_supplies_key_and_base_url(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-from-env-123456")
    monkeypatch.setenv("QWEN_JUPYTER_BASE_URL", "http://127.0.0.1:9")
    settings = route(api="dashscope")
    assert settings.key() == "sk-from-env-123456" and settings.host == "http://127.0.0.1:9"
    assert settings.route == "live"
    assert route(base_url="http://127.0.0.1:10").host == "http://127.0.0.1:10"


def test_without_key_or_base_url_the_emulator_answers_and_says_so(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.delenv("QWEN_JUPYTER_BASE_URL", raising=False)
    settings = route()
    assert settings.route == "emulator" and "(emulator)" in settings.describe()
    assert route(offline="off").route == "live"
    with pytest.raises(QwenError, match=r"Offline mode must be on, off or auto \(1, true, yes; 0, false, no\); got 'maybe'"):
        route(offline="maybe")


@pytest.mark.parametrize("written, mode", [("1", "emulator"), ("true", "emulator"), ("YES", "emulator"), ("on", "emulator"),
                                           ("0", "live"), ("false", "live"), ("off", "live")])
def test_the_offline_switch_reads_as_people_write_it(monkeypatch, written, mode):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-from-env-123456")
    monkeypatch.setenv("QWEN_JUPYTER_OFFLINE", written)
    assert route().route == mode
    assert route(offline=mode == "emulator").route == mode  # offline=True / False from Python


def test_a_bad_offline_variable_says_where_it_came_from(monkeypatch):
    monkeypatch.setenv("QWEN_JUPYTER_OFFLINE", "maybe")
    with pytest.raises(QwenError) as caught:
        route()
    assert caught.value.message == ("Offline mode must be on, off or auto (1, true, yes; 0, false, no); got 'maybe' "
                                    "(from the environment variable QWEN_JUPYTER_OFFLINE).")


def test_secret_never_shows_its_value():
    secret = Secret("sk-abcdef123456")
    assert "abcdef" not in repr(secret) + str(secret) + f"{secret}" + repr(Settings(api_key=secret))
    assert secret.reveal() == "sk-abcdef123456"


def test_a_secret_wrapped_again_keeps_its_value():
    assert Secret(Secret("sk-twice-123456")).reveal() == "sk-twice-123456"
    assert route(api_key=Secret("sk-login-123456"), offline="off").key() == "sk-login-123456"


def test_a_plain_string_key_is_wrapped():
    settings = Settings(api_key="sk-plain-123456")
    assert isinstance(settings.api_key, Secret) and settings.key() == "sk-plain-123456"
    assert "plain" not in repr(settings)
