//! Property tests of an integration's `auth` object: every accepted shape parses to exactly the
//! credentials sent and round-trips through its sealed JSON; the view and `Debug` never carry a
//! credential (only a `…Last4` hint of long ones); one bad field — missing, extra, not a string,
//! a control character, too long, an unknown type — is refused naming exactly `auth.<field>`.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

/// Marks the start of every generated credential; no other generated field contains it, and a
/// view that showed more than the last four characters of a credential would show it.
const MARK: char = '\u{2603}';

fn secret() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~\t]{0,30}", "\\PC{0,12}", "[a-z]{4090,4093}",]
        .prop_map(|tail| {
            let tail: String = tail.chars().filter(|c| *c != MARK).collect();
            format!("{MARK}{tail}")
        })
        .prop_filter("fits", |s| s.len() <= CREDENTIAL_MAX)
}

/// A config as sent (JSON) and as it must be stored.
fn config() -> impl Strategy<Value = (Value, AuthConfig)> {
    prop_oneof![
        Just((json!({"type": "none"}), AuthConfig::None)),
        secret().prop_map(|token| (
            json!({"type": "bearer", "token": token}),
            AuthConfig::Bearer { token }
        )),
        ("X-[A-Za-z0-9-]{1,20}", secret()).prop_map(|(name, value)| (
            json!({"type": "header", "name": name, "value": value}),
            AuthConfig::Header { name, value }
        )),
        (
            secret().prop_filter("no colon", |u| !u.contains(':')),
            prop_oneof![Just(String::new()), secret()],
        )
            .prop_map(|(username, password)| (
                json!({"type": "basic", "username": username, "password": password}),
                AuthConfig::Basic { username, password }
            )),
        (
            "[a-z0-9/]{0,12}",
            "[a-z][a-z0-9-]{0,15}",
            // OAuth2 fields allow no tab (a form field, not a header value).
            secret().prop_map(|s| s.replace('\t', " ")),
            proptest::option::of("[a-z:]{1,8}( [a-z:]{1,8}){0,3}"),
        )
            .prop_map(|(path, client_id, client_secret, scope)| {
                let token_url = format!("https://auth.example.com/{path}");
                let mut raw = json!({"type": oauth2::TYPE, "tokenUrl": token_url,
                    "clientId": client_id, "clientSecret": client_secret});
                if let Some(scope) = &scope {
                    raw["scope"] = json!(scope);
                }
                let config = AuthConfig::OAuth2ClientCredentials(ClientCredentials {
                    token_url: url::Url::parse(&token_url).unwrap().to_string(),
                    client_id,
                    client_secret,
                    scope,
                    audience: None,
                });
                (raw, config)
            }),
    ]
}

/// The credentials of a config, which no view may carry.
fn credentials(config: &AuthConfig) -> Vec<&str> {
    match config {
        AuthConfig::None => vec![],
        AuthConfig::Bearer { token } => vec![token],
        AuthConfig::Header { value, .. } => vec![value],
        AuthConfig::Basic { username, password } => vec![username, password],
        AuthConfig::OAuth2ClientCredentials(c) => vec![&c.client_secret],
    }
}

/// The fields of a sent config whose value is a credential checked by `credential`.
fn credential_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "bearer" => &["token"],
        "header" => &["value"],
        "basic" => &["username", "password"],
        _ => &[],
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove(usize),
    Extra(String),
    NotAString(usize, Value),
    ControlCharacter(usize, char),
    TooLong(usize),
    UnknownType(String),
    NotAnObject(Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        "[a-zA-Z_]{1,10}".prop_map(Mutation::Extra),
        (
            any::<usize>(),
            prop_oneof![
                Just(json!(null)),
                Just(json!(5)),
                Just(json!(true)),
                Just(json!(["x"])),
                Just(json!({})),
            ]
        )
            .prop_map(|(i, v)| Mutation::NotAString(i, v)),
        (
            any::<usize>(),
            prop_oneof![
                Just('\r'),
                Just('\n'),
                Just('\0'),
                Just('\u{7f}'),
                Just('\u{85}')
            ]
        )
            .prop_map(|(i, c)| Mutation::ControlCharacter(i, c)),
        any::<usize>().prop_map(Mutation::TooLong),
        "[a-z0-9_]{1,12}".prop_map(Mutation::UnknownType),
        prop_oneof![
            Just(json!(null)),
            Just(json!("bearer")),
            Just(json!([{"type": "none"}])),
        ]
        .prop_map(Mutation::NotAnObject),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn accepted_configs_round_trip_and_views_hide_credentials((raw, expected) in config()) {
        // Each credential fits, but the `Basic` header of two long ones may not: then the whole
        // `auth` is refused, as the header could never be sent.
        if let AuthConfig::Basic { username, password } = &expected {
            let header = "Basic ".len() + (username.len() + 1 + password.len()).div_ceil(3) * 4;
            if header > headers::VALUE_MAX {
                let err = AuthConfig::parse("auth", &raw).unwrap_err();
                prop_assert_eq!(err.param, "auth");
                prop_assert!(!err.message.contains(MARK), "{}", err.message);
                return Ok(());
            }
        }
        let config = AuthConfig::parse("auth", &raw).map_err(|e| {
            TestCaseError::fail(format!("{raw} refused: {} {}", e.param, e.message))
        })?;
        prop_assert_eq!(&config, &expected);
        let sealed: AuthConfig =
            serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        prop_assert_eq!(&sealed, &config);

        let view = config.view();
        prop_assert_eq!(view.type_name(), raw["type"].as_str().unwrap());
        let shown = serde_json::to_string(&view).unwrap();
        let debug = format!("{config:?}");
        prop_assert!(!shown.contains(MARK), "{}", shown);
        prop_assert!(!debug.contains(MARK), "{}", debug);
        for secret in credentials(&config).into_iter().filter(|s| !s.is_empty()) {
            prop_assert!(!shown.contains(secret), "{}", shown);
            let count = secret.chars().count();
            let hint = (count >= 8).then(|| secret.chars().skip(count - 4).collect::<String>());
            let hinted = match &view {
                AuthView::Bearer { token_last4 } => vec![token_last4],
                AuthView::Header { value_last4, .. } => vec![value_last4],
                AuthView::Basic { username_last4, password_last4 } => {
                    vec![username_last4, password_last4]
                }
                AuthView::OAuth2ClientCredentials(c) => vec![&c.client_secret_last4],
                AuthView::None => vec![],
            };
            prop_assert!(hinted.contains(&&hint), "{:?} not in {:?}", hint, hinted);
        }
        // The header sent carries the credential exactly, marked sensitive.
        if let Some((_, value)) = config.header().unwrap() {
            prop_assert!(value.is_sensitive());
            let sent = String::from_utf8(value.as_bytes().to_vec()).unwrap();
            match &config {
                AuthConfig::Bearer { token } => prop_assert_eq!(sent, format!("Bearer {token}")),
                AuthConfig::Header { value, .. } => prop_assert_eq!(&sent, value),
                _ => prop_assert!(sent.starts_with("Basic ")),
            }
        }
    }

    #[test]
    fn one_bad_field_is_refused_by_name((raw, _) in config(), mutation in mutation()) {
        let kind = raw["type"].as_str().unwrap().to_string();
        let obj = raw.as_object().unwrap();
        // The fields besides `type`, in the order the parser reads them.
        let fields: Vec<String> = match kind.as_str() {
            "none" => vec![],
            "bearer" => vec!["token".into()],
            "header" => vec!["name".into(), "value".into()],
            "basic" => vec!["username".into(), "password".into()],
            _ => vec!["tokenUrl".into(), "clientId".into(), "clientSecret".into()],
        };
        let mut bad = raw.clone();
        let expected: String = match &mutation {
            Mutation::Remove(i) if !fields.is_empty() => {
                let field = &fields[i % fields.len()];
                bad.as_object_mut().unwrap().remove(field);
                format!("auth.{field}")
            }
            Mutation::Remove(_) => {
                bad.as_object_mut().unwrap().remove("type");
                "auth.type".into()
            }
            Mutation::Extra(name) => {
                if name == "type" || obj.contains_key(name)
                    || (kind == oauth2::TYPE && oauth2::FIELDS.contains(&name.as_str()))
                {
                    return Ok(());
                }
                bad[name] = json!("x");
                format!("auth.{name}")
            }
            Mutation::NotAString(i, value) if !fields.is_empty() => {
                let field = &fields[i % fields.len()];
                bad[field] = value.clone();
                format!("auth.{field}")
            }
            Mutation::NotAString(_, value) => {
                bad["type"] = value.clone();
                "auth.type".into()
            }
            Mutation::ControlCharacter(..) | Mutation::TooLong(_)
                if credential_fields(&kind).is_empty() =>
            {
                return Ok(());
            }
            Mutation::ControlCharacter(i, c) => {
                let names = credential_fields(&kind);
                let field = names[i % names.len()];
                bad[field] = json!(format!("{}{c}", obj[field].as_str().unwrap()));
                format!("auth.{field}")
            }
            Mutation::TooLong(i) => {
                let names = credential_fields(&kind);
                let field = names[i % names.len()];
                bad[field] = json!("k".repeat(CREDENTIAL_MAX + 1));
                format!("auth.{field}")
            }
            Mutation::UnknownType(other) => {
                if ["none", "bearer", "header", "basic", oauth2::TYPE].contains(&other.as_str()) {
                    return Ok(());
                }
                bad["type"] = json!(other);
                "auth.type".into()
            }
            Mutation::NotAnObject(value) => {
                bad = value.clone();
                "auth".into()
            }
        };
        match AuthConfig::parse("auth", &bad) {
            Ok(_) => prop_assert!(false, "{} accepted ({:?})", bad, mutation),
            Err(err) => {
                prop_assert_eq!(&err.param, &expected, "{}: {}", bad, err.message);
                prop_assert!(!err.message.contains(MARK), "{}", err.message);
                prop_assert!(err.message.len() < 400, "{}", err.message);
            }
        }
    }
}
