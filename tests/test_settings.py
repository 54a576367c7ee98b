"""The one settings object: every variable read and validated in one place, errors that name
the variable, secrets hidden, and a client that says plainly when no cluster answers."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.settings import LOCAL_CLUSTER_RECORD, FetchSettings, Settings, SettingsError, secret
from tasks.store.client import NoElasticsearch, check_reachable, connect


def test_defaults_and_index_names_have_one_home():
    s = Settings.from_env({})
    assert s.es_url is None and s.elasticsearch_url == s.local_url == "http://127.0.0.1:9200"
    assert (s.read_alias, s.write_alias, s.state_index, s.deadletter_index) == (
        "ceasefire-articles", "ceasefire-articles-write", "ceasefire-state", "ceasefire-deadletter")
    assert s.articles_index.startswith("ceasefire-articles-v")
    assert s.new_articles_index().startswith(s.articles_index + "-")
    assert s.articles_pattern == "ceasefire-articles-v*"


def test_variables_reach_their_fields():
    s = Settings.from_env({"ELASTICSEARCH_URL": "https://es.example:9243", "ELASTICSEARCH_TIMEOUT": "7.5",
                           "CEASEFIRE_INDEX_PREFIX": "research", "CEASEFIRE_ES_PORT": "9300",
                           "CEASEFIRE_SPACY_PROCESSES": "2", "CEASEFIRE_FETCH_MIN_INTERVAL": "0.25",
                           "CEASEFIRE_FETCH_ALLOW_NETWORKS": "127.0.0.0/8, ::1/128"})
    assert s.elasticsearch_url == "https://es.example:9243" and s.es_request_timeout == 7.5
    assert s.read_alias == "research-articles" and s.local_port == 9300 and s.spacy_n_process == 2
    assert s.fetch.min_interval == 0.25 and [str(n) for n in s.fetch.allow_networks] == ["127.0.0.0/8", "::1/128"]


def test_a_given_mapping_is_read_alone(monkeypatch):
    monkeypatch.setenv("CEASEFIRE_INDEX_PREFIX", "from-the-process")
    monkeypatch.setenv("CEASEFIRE_FETCH_ALLOW_NETWORKS", "10.0.0.0/8")
    assert Settings.from_env({}).index_prefix == "ceasefire"
    assert Settings.from_env({}).fetch.allow_networks == ()
    assert Settings.from_env().index_prefix == "from-the-process"
    assert [str(n) for n in Settings.from_env().fetch.allow_networks] == ["10.0.0.0/8"]


def test_empty_variables_mean_unset():
    assert Settings.from_env({"ELASTICSEARCH_URL": "", "CEASEFIRE_ES_PORT": ""}).elasticsearch_url == \
        "http://127.0.0.1:9200"


@pytest.mark.parametrize(("env", "named"), [
    ({"CEASEFIRE_ES_PORT": "abc"}, "CEASEFIRE_ES_PORT='abc'"),
    ({"CEASEFIRE_ES_PORT": "70000"}, "CEASEFIRE_ES_PORT"),
    ({"ELASTICSEARCH_TIMEOUT": "30s"}, "ELASTICSEARCH_TIMEOUT='30s'"),
    ({"ELASTICSEARCH_TIMEOUT": "-1"}, "ELASTICSEARCH_TIMEOUT"),
    ({"CEASEFIRE_INDEX_PREFIX": "Bad Prefix"}, "CEASEFIRE_INDEX_PREFIX"),
    ({"CEASEFIRE_ES_HEAP": "lots"}, "CEASEFIRE_ES_HEAP"),
    ({"CEASEFIRE_SPACY_PROCESSES": "0"}, "CEASEFIRE_SPACY_PROCESSES"),
    ({"CEASEFIRE_FETCH_MAX_BYTES": "many"}, "CEASEFIRE_FETCH_MAX_BYTES"),
    ({"CEASEFIRE_FETCH_ALLOW_NETWORKS": "localhost"}, "CEASEFIRE_FETCH_ALLOW_NETWORKS"),
    ({"CEASEFIRE_STEMMED_LANGUAGES": "en,uk"}, "'uk' is not a stemmed language"),
    ({"CEASEFIRE_STEMMED_LANGUAGES": ",,"}, "CEASEFIRE_STEMMED_LANGUAGES"),
    ({"CEASEFIRE_ES_LANGUAGE_ANALYZERS": "maybe"}, "CEASEFIRE_ES_LANGUAGE_ANALYZERS"),
])
def test_a_bad_variable_is_named(env, named):
    with pytest.raises(SettingsError, match="invalid settings") as caught:
        Settings.from_env(env)
    assert named in str(caught.value)


def test_two_bad_variables_are_both_named():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CEASEFIRE_ES_PORT": "x", "ELASTICSEARCH_TIMEOUT": "y"})
    assert "CEASEFIRE_ES_PORT" in str(caught.value) and "ELASTICSEARCH_TIMEOUT" in str(caught.value)


def test_secrets_stay_hidden():
    s = Settings.from_env({"ELASTICSEARCH_API_KEY": "key-123", "ELASTICSEARCH_PASSWORD": "pw-456",
                           "ELASTICSEARCH_USERNAME": "etl"})
    assert secret(s.es_api_key) == "key-123" and secret(s.es_password) == "pw-456"
    for shown in (repr(s), str(s), s.model_dump_json()):
        assert "key-123" not in shown and "pw-456" not in shown
    assert secret(s.replace(index_prefix="other").es_password) == "pw-456"


def test_replace_validates_like_the_environment():
    s = Settings.from_env({})
    assert s.replace(index_prefix="abc").read_alias == "abc-articles"
    with pytest.raises(SettingsError, match="CEASEFIRE_INDEX_PREFIX"):
        s.replace(index_prefix="Not Valid")
    assert FetchSettings.from_env({}).replace(min_interval=0.0).min_interval == 0.0


def test_fetch_intervals_per_host_keep_the_most_cautious():
    s = Settings.from_env({})
    fetch = s.fetch_for([("News.example", 2.0), ("news.example", 5.0), ("other.example", 0.5)])
    assert fetch.host_intervals == {"news.example": 5.0, "other.example": 0.5}


@given(st.dictionaries(st.sampled_from(["CEASEFIRE_ES_PORT", "ELASTICSEARCH_TIMEOUT", "CEASEFIRE_INDEX_PREFIX",
                                        "CEASEFIRE_ES_HEAP", "CEASEFIRE_SPACY_PROCESSES", "ELASTICSEARCH_URL",
                                        "CEASEFIRE_FETCH_ALLOW_NETWORKS", "CEASEFIRE_FETCH_DEADLINE",
                                        "CEASEFIRE_FETCH_RESPECT_ROBOTS", "ELASTICSEARCH_PASSWORD",
                                        "CEASEFIRE_ES_NODES", "CEASEFIRE_STEMMED_LANGUAGES"]),
                       st.text(max_size=40)))
def test_any_environment_gives_settings_or_a_settings_error(env):
    try:
        s = Settings.from_env(env)
    except SettingsError as exc:
        if env.get("ELASTICSEARCH_PASSWORD"):  # a secret is never echoed, even when malformed
            assert f"ELASTICSEARCH_PASSWORD={env['ELASTICSEARCH_PASSWORD']!r}" not in str(exc)
        return
    assert s.local_port >= 1 and s.fetch.deadline > 0
    assert set(s.stemmed_languages) <= {"en", "fr", "de", "es", "ru", "ar"}


def test_stemmed_languages_in_any_case_and_order_or_none():
    assert Settings.from_env({}).stemmed_languages == ("en", "fr", "de", "es", "ru", "ar")
    assert Settings.from_env({"CEASEFIRE_STEMMED_LANGUAGES": " AR, en "}).stemmed_languages == ("en", "ar")
    assert Settings.from_env({"CEASEFIRE_STEMMED_LANGUAGES": "none"}).stemmed_languages == ()


def test_the_client_is_given_every_node(tmp_path):
    listed = Settings.from_env({"ELASTICSEARCH_URL": " https://a.example:9200, https://b.example:9201 ,"})
    assert listed.elasticsearch_urls == ["https://a.example:9200", "https://b.example:9201"]
    assert listed.elasticsearch_url == "https://a.example:9200"
    pool = connect(listed).transport.node_pool.all()
    assert sorted(f"{n.config.host}:{n.config.port}" for n in pool) == ["a.example:9200", "b.example:9201"]
    # The local nodes: one, unless `es start --nodes N` recorded more under the home.
    env = {"CEASEFIRE_HOME": str(tmp_path), "CEASEFIRE_ES_PORT": "9400"}
    assert Settings.from_env(env).elasticsearch_urls == ["http://127.0.0.1:9400"]
    (tmp_path / LOCAL_CLUSTER_RECORD).parent.mkdir(parents=True)
    (tmp_path / LOCAL_CLUSTER_RECORD).write_text('{"nodes": 3}')
    assert Settings.from_env(env).elasticsearch_urls == [f"http://127.0.0.1:{p}" for p in (9400, 9401, 9402)]
    assert Settings.from_env({**env, "CEASEFIRE_ES_NODES": "2"}).local_nodes == 2  # the variable wins
    assert Settings.from_env({**env, "ELASTICSEARCH_URL": "http://x:1"}).elasticsearch_urls == ["http://x:1"]
    with pytest.raises(SettingsError, match="CEASEFIRE_ES_NODES"):
        Settings.from_env({"CEASEFIRE_ES_NODES": "0"})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_cluster_is_a_plain_error_without_credentials():
    port = _closed_port()
    local = Settings.from_env({"CEASEFIRE_ES_PORT": str(port), "ELASTICSEARCH_TIMEOUT": "2"})
    with pytest.raises(NoElasticsearch, match=f"no Elasticsearch at http://127.0.0.1:{port}.*ceasefire es start"):
        check_reachable(connect(local), local, timeout=2)
    remote = Settings.from_env({"ELASTICSEARCH_URL": f"http://etl:hunter2@127.0.0.1:{port}",
                                "ELASTICSEARCH_TIMEOUT": "2"})
    with pytest.raises(NoElasticsearch, match="ELASTICSEARCH_URL") as caught:
        check_reachable(connect(remote), remote, timeout=2)
    assert "hunter2" not in str(caught.value)


def test_no_node_of_a_list_answering_names_them_all():
    a, b = _closed_port(), _closed_port()
    listed = Settings.from_env({"ELASTICSEARCH_URL": f"http://etl:hunter2@127.0.0.1:{a},http://127.0.0.1:{b}",
                                "ELASTICSEARCH_TIMEOUT": "2"})
    with pytest.raises(NoElasticsearch, match=f"at http://\\*\\*\\*@127.0.0.1:{a}, http://127.0.0.1:{b} ") as caught:
        check_reachable(connect(listed), listed, timeout=2)
    assert "hunter2" not in str(caught.value)


def test_the_running_cluster_answers(settings):
    check_reachable(connect(settings), settings)
