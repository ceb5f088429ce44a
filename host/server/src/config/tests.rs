//! Tests of [`super`] (config).

use super::*;

fn resolve(args: &ServeArgs, toml: &str) -> anyhow::Result<Config> {
    Config::resolve(args, parse(toml)?, None, None)
}

#[test]
fn defaults_are_the_documented_ones() {
    let config = resolve(&ServeArgs::default(), "").expect("resolves");
    assert_eq!(config.host, "0.0.0.0");
    assert_eq!(config.port, 5000);
    assert_eq!(config.data_dir, PathBuf::from("./data"));
    assert_eq!(config.database_url, "sqlite://./data/sanctuary.db?mode=rwc");
    assert_eq!(config.cache_dir, PathBuf::from("./data/cache"));
    assert_eq!(config.plugins_dir(), PathBuf::from("./data/plugins"));
    assert_eq!(
        config.cors.origins,
        [
            "http://localhost:3000",
            "http://127.0.0.1:3000",
            "http://localhost:5173"
        ]
    );
    assert_eq!(config.scout.projects.len(), 1);
    assert_eq!(config.scout.projects[0].path, PathBuf::from("."));
    assert!(config.admin_token.is_none());
    assert_eq!(config, Config::default());
}

#[test]
fn the_default_project_is_named_after_the_working_directory() {
    let cwd = std::env::current_dir().expect("cwd");
    let name = cwd.file_name().expect("a name").to_string_lossy();
    assert_eq!(ScoutConfig::default().projects[0].name, name);
}

#[test]
fn file_values_replace_the_defaults() {
    let toml = r#"
        host = "127.0.0.1"
        port = 8080
        data_dir = "/srv/sanctuary"
        [cors]
        origins = ["https://app.example"]
        [plugins.system]
        cpu_percent = 95
        [plugins.time]
        zones = ["UTC", "Europe/Paris"]
        [[scout.projects]]
        name = "web"
        path = "../web"
    "#;
    let config = resolve(&ServeArgs::default(), toml).expect("resolves");
    assert_eq!(config.host, "127.0.0.1");
    assert_eq!(config.port, 8080);
    assert_eq!(config.data_dir, PathBuf::from("/srv/sanctuary"));
    // Paths derived from the data directory follow it.
    assert_eq!(
        config.database_url,
        "sqlite:///srv/sanctuary/sanctuary.db?mode=rwc"
    );
    assert_eq!(config.cache_dir, PathBuf::from("/srv/sanctuary/cache"));
    assert_eq!(config.cors.origins, ["https://app.example"]);
    assert_eq!(
        config.plugin_config("system"),
        serde_json::json!({"cpu_percent": 95})
    );
    assert_eq!(
        config.plugin_config("time"),
        serde_json::json!({"zones": ["UTC", "Europe/Paris"]})
    );
    assert_eq!(config.plugin_config("absent"), serde_json::Value::Null);
    assert_eq!(
        config.scout.projects,
        [ProjectConfig {
            name: "web".into(),
            path: "../web".into()
        }]
    );
}

#[test]
fn server_limits_come_from_flags_over_the_file_over_the_defaults() {
    let config = resolve(&ServeArgs::default(), "").expect("resolves");
    assert_eq!(config.server, ServerConfig::default());
    let args = ServeArgs {
        idle_timeout: Some(5),
        max_connections: Some(100),
        ..ServeArgs::default()
    };
    let toml = "[server]\nidle_timeout_secs = 9\nheader_timeout_secs = 3\nbatch_timeout_secs = 7\n";
    let config = resolve(&args, toml).expect("resolves");
    assert_eq!(config.server.idle_timeout_secs, 5, "the flag wins");
    assert_eq!(
        config.server.header_timeout_secs, 3,
        "the file beats the default"
    );
    assert_eq!(config.server.batch_timeout_secs, 7);
    assert_eq!(config.server.max_connections, 100);
    assert_eq!(config.server.body_timeout_secs, 60, "the default");
    let err = resolve(&ServeArgs::default(), "[server]\nbody_timeout_secs = 0\n")
        .expect_err("zero is refused");
    assert!(
        format!("{err:#}").contains("server.body_timeout_secs"),
        "{err:#}"
    );
}

#[test]
fn every_flag_sets_a_key_of_the_file() {
    // Each flag's serde name is its key's path: a typo there would be an unknown key.
    let args = ServeArgs {
        host: Some("::1".into()),
        port: Some(1),
        port_file: Some("/tmp/p".into()),
        data_dir: Some("/tmp/d".into()),
        config: Some("/not/a/key.toml".into()),
        database_url: Some("sqlite:///tmp/x.db".into()),
        redis_url: Some("redis://h".into()),
        redis_prefix: Some("p".into()),
        cache_dir: Some("/tmp/c".into()),
        registry: Some("/tmp/r.json".into()),
        secrets_file: Some("/tmp/s.toml".into()),
        rate_limit: Some(3),
        header_timeout: Some(4),
        body_timeout: Some(5),
        idle_timeout: Some(6),
        max_connections: Some(7),
        batch_timeout: Some(8),
        health_probe_timeout_ms: Some(9),
        reserved_env: Some(" A, ,B_2 ".into()),
        log_format: Some(LogFormat::Json),
        access_log: Some(false),
    };
    let keys = args.keys().expect("keys");
    assert!(!keys.contains_key("config"), "the config file is no key");
    let config = Config::resolve(&args, toml::Table::new(), None, None).expect("resolves");
    assert_eq!(
        (
            config.rate_limit.per_second,
            config.server.header_timeout_secs
        ),
        (3, 4)
    );
    assert_eq!(
        (
            config.server.body_timeout_secs,
            config.server.idle_timeout_secs,
            config.server.max_connections,
            config.server.batch_timeout_secs,
        ),
        (5, 6, 7, 8)
    );
    assert_eq!(config.health.probe_timeout_ms, 9);
    assert_eq!(config.security.reserved_env, ["A", "B_2"]);
    assert_eq!(
        (config.log.format, config.log.access),
        (LogFormat::Json, false)
    );
    assert_eq!(config.registry, Some(PathBuf::from("/tmp/r.json")));
    assert_eq!(config.secrets_file, Some(PathBuf::from("/tmp/s.toml")));
    // Written into a file instead, the same keys resolve to the same configuration.
    let mut file = toml::Table::new();
    super::overlay(&mut file, &keys);
    let from_file = Config::resolve(&ServeArgs::default(), file, None, None).expect("resolves");
    assert_eq!(
        toml::Value::try_from(&from_file).expect("serializes"),
        toml::Value::try_from(&config).expect("serializes")
    );
}

#[test]
fn the_reload_diff_names_every_changed_key_but_not_those_a_flag_holds() {
    let args = ServeArgs {
        port: Some(9000),
        ..ServeArgs::default()
    };
    let config = resolve(&args, "[cors]\norigins = [\"https://a.example\"]\n").expect("resolves");
    let next = config
        .reloadable(
            super::parse("port = 7000\n[jobs]\nconcurrency = 9\n[breaker]\nfailures = 2\n")
                .expect("parses"),
        )
        .expect("valid");
    // `port` is held by the flag; `cors` went back to its default; `jobs` changed;
    // `breaker` takes effect at once.
    assert_eq!(next.restart_needed, ["cors", "jobs"]);
    assert_eq!(next.breaker.failures, 2);
}

#[test]
fn flags_and_environment_override_the_file() {
    // clap puts a flag and its SANCTUARY_* variable in the same field, so this covers
    // both (the wiring of each variable is tested in `cli`).
    let args = ServeArgs {
        host: Some("::1".into()),
        port: Some(0),
        port_file: Some("/tmp/flag.port".into()),
        data_dir: Some("/tmp/flag".into()),
        database_url: Some("postgres://db.example/sanctuary".into()),
        redis_url: Some("redis://cache.example:6380".into()),
        redis_prefix: Some("site-b".into()),
        cache_dir: Some("/tmp/cache".into()),
        registry: None,
        config: None,
        secrets_file: None,
        rate_limit: None,
        header_timeout: None,
        body_timeout: None,
        idle_timeout: None,
        max_connections: None,
        batch_timeout: None,
        health_probe_timeout_ms: Some(250),
        reserved_env: None,
        log_format: Some(LogFormat::Json),
        access_log: None,
    };
    let toml = r#"
        host = "127.0.0.1"
        port = 8080
        port_file = "/srv/file.port"
        data_dir = "/srv/file"
        database_url = "sqlite:///srv/file/other.db"
        redis_prefix = "site-a"
        cache_dir = "/srv/file/cache"
        [health]
        probe_timeout_ms = 5000
        cache_ttl_ms = 0
        [log]
        format = "pretty"
        access = false
    "#;
    let config = resolve(&args, toml).expect("resolves");
    assert_eq!(config.host, "::1");
    assert_eq!(config.port, 0);
    assert_eq!(config.port_file, Some(PathBuf::from("/tmp/flag.port")));
    assert_eq!(config.data_dir, PathBuf::from("/tmp/flag"));
    assert_eq!(config.database_url, "postgres://db.example/sanctuary");
    assert_eq!(
        config.redis_url.as_deref(),
        Some("redis://cache.example:6380")
    );
    assert_eq!(config.redis_prefix, "site-b");
    assert_eq!(config.cache_dir, PathBuf::from("/tmp/cache"));
    assert_eq!(config.health.probe_timeout_ms, 250, "the flag wins");
    assert_eq!(config.health.cache_ttl_ms, 0, "the file's other keys stay");
    assert_eq!(config.log.format, LogFormat::Json, "the flag wins");
    assert!(!config.log.access, "the file's other keys stay");
}

#[test]
fn health_and_telemetry_keys_have_documented_defaults_and_are_checked() {
    let config = resolve(&ServeArgs::default(), "").expect("resolves");
    assert_eq!(config.health, HealthConfig::default());
    assert_eq!(config.health.probe_timeout_ms, 1000);
    assert_eq!(config.telemetry.retention_days, 30);
    assert_eq!(config.telemetry.max_rows, 1_000_000);
    assert_eq!(config.scout.status_ttl_ms, 2000);
    let config = resolve(
        &ServeArgs::default(),
        "[telemetry]\nretention_days = 7\nmax_rows = 0\n[scout]\nstatus_ttl_ms = 0",
    )
    .expect("resolves");
    assert_eq!(
        (config.telemetry.retention_days, config.telemetry.max_rows),
        (7, 0)
    );
    assert_eq!(config.scout.status_ttl_ms, 0);
    let err =
        resolve(&ServeArgs::default(), "[health]\nprobe_timeout_ms = 0").expect_err("refused");
    assert!(format!("{err:#}").contains("probe_timeout_ms"), "{err:#}");
}

#[test]
fn a_flag_data_dir_moves_the_default_database_but_not_one_set_in_the_file() {
    let args = ServeArgs {
        data_dir: Some("/tmp/flag".into()),
        ..ServeArgs::default()
    };
    let config = resolve(&args, "").expect("resolves");
    assert_eq!(
        config.database_url,
        "sqlite:///tmp/flag/sanctuary.db?mode=rwc"
    );
    let config = resolve(&args, r#"database_url = "sqlite:///kept.db""#).expect("resolves");
    assert_eq!(config.database_url, "sqlite:///kept.db");
}

#[test]
fn an_unknown_key_is_an_error_naming_it() {
    let err = resolve(&ServeArgs::default(), "prot = 5000").expect_err("refused");
    assert!(format!("{err:#}").contains("prot"), "{err:#}");
    let err = resolve(&ServeArgs::default(), "[cors]\norigin = []").expect_err("refused");
    assert!(format!("{err:#}").contains("origin"), "{err:#}");
    let err = resolve(
        &ServeArgs::default(),
        "[[scout.projects]]\nname = \"a\"\npath = \".\"\ndir = \"x\"",
    )
    .expect_err("refused");
    assert!(format!("{err:#}").contains("dir"), "{err:#}");
}

#[test]
fn bad_toml_gives_an_error_with_the_line() {
    let err = resolve(&ServeArgs::default(), "host = \"a\"\nport = = 1").expect_err("refused");
    let text = format!("{err:#}");
    assert!(text.contains("line 2"), "{text}");
}

#[test]
fn a_value_of_the_wrong_type_is_an_error_naming_the_key() {
    let err = resolve(&ServeArgs::default(), "port = \"http\"").expect_err("refused");
    assert!(format!("{err:#}").contains("port"), "{err:#}");
}

#[test]
fn an_app_scheme_wildcard_is_allowed_but_not_for_web_schemes() {
    let config = resolve(
        &ServeArgs::default(),
        "[cors]\norigins = [\"vscode-webview://*\"]",
    )
    .expect("an app scheme may be allowed whole");
    assert_eq!(config.cors.origins, ["vscode-webview://*"]);
    for origin in ["https://*", "http://*"] {
        let text = format!("[cors]\norigins = [\"{origin}\"]");
        let err = resolve(&ServeArgs::default(), &text).expect_err("refused");
        assert!(format!("{err:#}").contains("every web site"), "{err:#}");
    }
}

#[test]
fn seed_settings_default_to_the_seeds_socket_io_limits_and_plans_must_exist() {
    let config = resolve(&ServeArgs::default(), "").expect("defaults");
    assert_eq!(config.socketio.max_payload, 1_000_000);
    assert_eq!(config.socketio.ping_timeout_ms, 60_000);
    assert_eq!(config.socketio.ping_interval_ms, 25_000);
    let err = resolve(
        &ServeArgs::default(),
        "[[plans]]\nname = \"free\"\n[subscriptions]\nusers = { ada = \"gold\" }",
    )
    .expect_err("an unknown plan");
    assert!(format!("{err:#}").contains("gold"), "{err:#}");
}

#[test]
fn a_wildcard_cors_origin_is_refused() {
    let err = resolve(&ServeArgs::default(), "[cors]\norigins = [\"*\"]").expect_err("refused");
    assert!(format!("{err:#}").contains("cors.origins"), "{err:#}");
}

#[test]
fn two_projects_with_one_name_are_refused() {
    let toml = "[[scout.projects]]\nname = \"a\"\npath = \".\"\n\
                [[scout.projects]]\nname = \"a\"\npath = \"..\"";
    assert!(resolve(&ServeArgs::default(), toml).is_err());
}

#[test]
fn an_explicit_config_file_that_does_not_exist_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ServeArgs {
        config: Some(dir.path().join("missing.toml")),
        data_dir: Some(dir.path().join("data")),
        ..ServeArgs::default()
    };
    let err = Config::load(&args).expect_err("refused");
    assert!(format!("{err:#}").contains("missing.toml"), "{err:#}");
}

#[test]
fn load_reads_the_named_file_records_it_and_creates_the_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sanctuary.toml");
    let data_dir = dir.path().join("nested/data");
    std::fs::write(
        &file,
        format!(
            "port = 7000\ndata_dir = {:?}\n",
            data_dir.display().to_string()
        ),
    )
    .expect("write");
    let args = ServeArgs {
        config: Some(file.clone()),
        ..ServeArgs::default()
    };
    let config = Config::load(&args).expect("loads");
    assert_eq!(config.port, 7000);
    assert_eq!(config.source, Some(file));
    assert!(data_dir.is_dir());
}

#[test]
fn the_admin_token_comes_only_from_the_environment_and_is_never_printed() {
    assert!(resolve(&ServeArgs::default(), "admin_token = \"x\"").is_err());
    let config = Config::resolve(
        &ServeArgs::default(),
        toml::Table::new(),
        None,
        Some("s3cret-token".into()),
    )
    .expect("resolves");
    assert_eq!(config.admin_token.as_deref(), Some("s3cret-token"));
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cret-token"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
}

#[test]
fn an_empty_admin_token_means_none() {
    let config = Config::resolve(
        &ServeArgs::default(),
        toml::Table::new(),
        None,
        Some(String::new()),
    )
    .expect("resolves");
    assert!(config.admin_token.is_none());
}

#[test]
fn debug_output_hides_a_database_password() {
    let config = Config {
        database_url: "postgres://app:hunter2@db/sanctuary".into(),
        ..Config::default()
    };
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn routes_breaker_and_secrets_file_are_read_strictly() {
    let toml = r#"
        secrets_file = "/etc/sanctuary/secrets.env"
        [routes.mama-bear]
        chain = [{ provider = "openai-compatible", model = "gpt-4o-mini" }, { provider = "local" }]
        timeout_ms = 5000
        retries = 2
        [routes.coder]
        chain = [{ provider = "anthropic", enabled = false }]
        [breaker]
        failures = 3
    "#;
    let config = resolve(&ServeArgs::default(), toml).expect("resolves");
    let route = &config.routes["mama-bear"];
    assert_eq!(route.chain[0].provider, "openai-compatible");
    assert_eq!(route.chain[0].model.as_deref(), Some("gpt-4o-mini"));
    assert!(route.chain[1].enabled);
    assert_eq!((route.timeout_ms, route.retries), (Some(5000), Some(2)));
    assert!(!config.routes["coder"].chain[0].enabled);
    assert_eq!(
        config.breaker,
        BreakerConfig {
            failures: 3,
            open_ms: 30_000
        }
    );
    assert_eq!(
        config.secrets_file,
        Some(PathBuf::from("/etc/sanctuary/secrets.env"))
    );
    for (bad, named) in [
        (
            "[routes.x]\nchain = [{ provider = \"a\", modle = \"m\" }]",
            "modle",
        ),
        ("[routes.x]\nchian = []", "chian"),
        ("[routes.x]\nchain = []", "routes.x"),
        ("[breaker]\nfailures = 0", "breaker.failures"),
        ("[breaker]\nopen = 5", "open"),
    ] {
        let err = resolve(&ServeArgs::default(), bad).expect_err(bad);
        assert!(format!("{err:#}").contains(named), "{bad}: {err:#}");
    }
}

#[test]
fn a_reread_file_yields_what_may_change_and_names_what_needs_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sanctuary.toml");
    std::fs::write(&file, "port = 7000\n").expect("write");
    let args = ServeArgs {
        config: Some(file.clone()),
        data_dir: Some(dir.path().join("data")),
        ..ServeArgs::default()
    };
    let config = Config::load(&args).expect("loads");
    std::fs::write(
        &file,
        "port = 7001\n[routes.mama-bear]\nchain = [{ provider = \"gemini\" }]\n\
         [plugins.gemini]\ndefault_model = \"x\"\n[breaker]\nopen_ms = 10\n",
    )
    .expect("write");
    let next = config.reread().expect("rereads");
    assert_eq!(next.routes["mama-bear"].chain[0].provider, "gemini");
    assert_eq!(next.breaker.open_ms, 10);
    assert_eq!(
        next.plugins["gemini"],
        serde_json::json!({"default_model": "x"})
    );
    assert_eq!(next.restart_needed, ["port"]);
    std::fs::write(&file, "[routes.mama-bear]\nchain = \"local\"\n").expect("write");
    assert!(
        config.reread().is_err(),
        "a bad file is an error, not a change"
    );
}

#[test]
fn signature_settings_are_read_and_a_bad_trusted_key_is_refused() {
    let config = resolve(
        &ServeArgs::default(),
        "[signatures]\ntrusted_keys = [\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"]\nrequire_signed = true\n",
    )
    .expect("valid");
    assert!(config.signatures.require_signed);
    assert_eq!(config.signatures.trusted_keys.len(), 1);
    assert!(!Config::default().signatures.require_signed);
    let err = resolve(
        &ServeArgs::default(),
        "[signatures]\ntrusted_keys = [\"nope\"]\n",
    )
    .expect_err("bad key");
    assert!(
        format!("{err:#}").contains("signatures.trusted_keys"),
        "{err:#}"
    );
}

#[test]
fn cache_settings_are_read_with_defaults_and_nonsense_is_refused() {
    assert_eq!(Config::default().cache, CacheConfig::default());
    assert!(!Config::default().cache.enabled);
    let config = resolve(
        &ServeArgs::default(),
        "[cache]\nenabled = true\nttl_secs = 60\nroutes = [\"mama-bear\"]\n",
    )
    .expect("valid");
    assert!(config.cache.enabled);
    assert_eq!(config.cache.ttl_secs, 60);
    assert_eq!(config.cache.max_entries, 1000);
    assert_eq!(config.cache.routes, vec!["mama-bear".to_string()]);
    for bad in [
        "[cache]\nttl_secs = 0\n",
        "[cache]\nmax_entries = 0\n",
        "[cache]\nttl = 5\n",
    ] {
        assert!(resolve(&ServeArgs::default(), bad).is_err(), "{bad}");
    }
}

#[test]
fn jobs_settings_are_read_with_defaults_and_nonsense_is_refused() {
    assert_eq!(Config::default().jobs.concurrency, 2);
    assert_eq!(Config::default().jobs.max_attempts, 3);
    let config = resolve(&ServeArgs::default(), "[jobs]\nconcurrency = 4\n").expect("valid");
    assert_eq!(config.jobs.concurrency, 4);
    assert_eq!(config.jobs.max_attempts, 3);
    for bad in [
        "[jobs]\nconcurrency = 0\n",
        "[jobs]\nmax_attempts = 0\n",
        "[jobs]\nworkers = 2\n",
    ] {
        assert!(resolve(&ServeArgs::default(), bad).is_err(), "{bad}");
    }
}

#[test]
fn auth_and_rate_limits_are_read_strictly_and_the_flag_beats_the_file() {
    let config = resolve(&ServeArgs::default(), "").expect("resolves");
    assert!(config.auth.open_read && config.auth.open_chat);
    assert_eq!(config.auth.session_hours, 168);
    assert_eq!(config.rate_limit.per_second, 0, "off by default");
    let toml = "[auth]\nopen_read = false\nsession_hours = 2\n\
                [rate_limit]\nper_second = 5\nburst = 7\ntrust_forwarded = true\n";
    let config = resolve(&ServeArgs::default(), toml).expect("resolves");
    assert!(!config.auth.open_read && config.auth.open_chat);
    assert_eq!(config.auth.session_hours, 2);
    assert_eq!(
        config.rate_limit,
        RateLimitConfig {
            per_second: 5,
            burst: Some(7),
            trust_forwarded: true
        }
    );
    let args = ServeArgs {
        rate_limit: Some(0),
        ..ServeArgs::default()
    };
    let config = resolve(&args, toml).expect("resolves");
    assert_eq!(config.rate_limit.per_second, 0, "the flag turns limits off");
    assert_eq!(config.rate_limit.burst, Some(7));
    for (bad, named) in [
        ("[auth]\nopen_reads = false", "open_reads"),
        ("[auth]\nsession_hours = 0", "auth.session_hours"),
        ("[rate_limit]\nper_second = -1", "per_second"),
        ("[rate_limit]\nburst = 0", "rate_limit.burst"),
    ] {
        let err = resolve(&ServeArgs::default(), bad).expect_err(bad);
        assert!(format!("{err:#}").contains(named), "{bad}: {err:#}");
    }
}

#[test]
fn the_example_config_at_the_repository_root_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sanctuary.example.toml");
    let text = std::fs::read_to_string(&path).expect("sanctuary.example.toml exists");
    let config = resolve(&ServeArgs::default(), &text).expect("the example resolves");
    assert!(config.plugins.contains_key("system"));
    assert!(!config.scout.projects.is_empty());
}

#[test]
fn the_deployment_config_is_valid_and_the_same_in_compose_and_kubernetes() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let text =
        std::fs::read_to_string(deploy.join("sanctuary.toml")).expect("deploy/sanctuary.toml");
    let config = resolve(&ServeArgs::default(), &text).expect("deploy/sanctuary.toml resolves");
    // Behind the load balancer the client address comes from X-Forwarded-For.
    assert!(config.rate_limit.trust_forwarded);
    // The ConfigMap carries the same file, indented under `sanctuary.toml: |`.
    let map = std::fs::read_to_string(deploy.join("k8s/configmap.yaml")).expect("configmap.yaml");
    let (_, block) = map
        .split_once("  sanctuary.toml: |\n")
        .expect("the ConfigMap has a sanctuary.toml key");
    let embedded: String = block
        .lines()
        .map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line)))
        .collect();
    assert_eq!(
        embedded, text,
        "deploy/k8s/configmap.yaml differs from deploy/sanctuary.toml"
    );
}

#[test]
fn the_port_file_comes_from_the_file_when_no_flag_names_one() {
    let config = resolve(
        &ServeArgs::default(),
        "port_file = \"/run/sanctuary.port\"\n",
    )
    .expect("resolves");
    assert_eq!(config.port_file, Some(PathBuf::from("/run/sanctuary.port")));
    let config = resolve(&ServeArgs::default(), "").expect("resolves");
    assert_eq!(config.port_file, None, "no port file by default");
}

#[test]
fn the_redis_prefix_defaults_to_sanctuary_and_refuses_what_cannot_name_a_key() {
    let config = resolve(&ServeArgs::default(), "").expect("resolves");
    assert_eq!(config.redis_prefix, "sanctuary");
    let config =
        resolve(&ServeArgs::default(), "redis_prefix = \"staging:eu-1\"\n").expect("resolves");
    assert_eq!(config.redis_prefix, "staging:eu-1");
    for bad in ["two words", "a*b", "tab\\tinside"] {
        let err = resolve(
            &ServeArgs::default(),
            &format!("redis_prefix = \"{bad}\"\n"),
        )
        .expect_err("refused");
        let message = format!("{err:#}");
        assert!(message.contains("redis_prefix"), "{message}");
        assert!(message.contains("--redis-prefix"), "{message}");
    }
}
