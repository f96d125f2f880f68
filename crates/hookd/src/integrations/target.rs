//! Where a call goes: the integration's URL plus the call's `path` and `query`, without any way
//! to leave the integration's origin or climb above its path.
//!
//! Two layers, because either alone is easy to get subtly wrong:
//! 1. **Reject tricks up front with a clear 400**: protocol-relative `//host`, a leading `@host`
//!    (userinfo confusion when naively concatenated), full URLs, backslashes (which URL parsers
//!    treat as `/`), `?`/`#` (query goes in `query`), control characters, and `.`/`..` segments in
//!    any spelling, since servers and proxies decode them differently: percent-encoded
//!    (`%2e%2e`, `.%2E`, double-encoded `%252e%252e`), with a path parameter (`..;/`, which
//!    Tomcat, Jetty and Spring read as `..`), overlong UTF-8 (`%c0%ae`, `%c0%af` for `/`), and
//!    full-width or other compatibility forms (`．．`, `％２ｅ`, `／`, `‥`) that a server
//!    normalising Unicode (NFKC) folds to ASCII. Every check runs on the NFKC form.
//! 2. **Build with the `url` crate and check the result**: the path is set with
//!    [`Url::set_path`] (never string-concatenated into a URL), and the final URL must have the
//!    base's scheme, host and port, no userinfo, and a path equal to or under the base path.

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;
use url::Url;

use crate::domain::FieldError;

// Beside the module as `target_props.rs`, not `target/props.rs`: a `target/` directory reads as
// a build output to tools and ignore rules.
#[cfg(test)]
#[path = "target_props.rs"]
mod props;

pub const PATH_MAX: usize = 2048;
pub const QUERY_MAX: usize = 4096;
/// Rounds of percent-decoding the path checks follow. Three rounds (the limit until a property
/// test found `%25252e%25252e`, a `..` after three decodings) is what servers and proxies in
/// a chain plausibly apply; a path needing more than this is refused rather than followed.
const DECODINGS_MAX: usize = 8;

/// The URL of one call.
pub fn build(base: &Url, path: Option<&str>, query: Option<&Value>) -> Result<Url, FieldError> {
    let mut url = base.clone();
    if let Some(raw) = path {
        let relative = check_path(raw)?;
        if !relative.is_empty() {
            let base_path = base.path().trim_end_matches('/');
            url.set_path(&format!("{base_path}/{relative}"));
        }
    }
    if let Some(query) = query {
        append_query(&mut url, query)?;
    }
    if !stays_under(base, &url) {
        return Err(FieldError::new(
            "path",
            "path would lead outside the integration's URL; it must name a location under it.",
        ));
    }
    Ok(url)
}

/// Validates `path` and returns it without its leading `/`.
fn check_path(raw: &str) -> Result<&str, FieldError> {
    let reject = |why: &str| Err(FieldError::new("path", format!("path {why}.")));
    if raw.len() > PATH_MAX {
        return reject(&format!("must be at most {PATH_MAX} characters"));
    }
    if raw.contains("://") {
        return reject("must be a path relative to the integration's URL, not a full URL");
    }
    if raw.contains('?') || raw.contains('#') {
        return reject("must not contain ? or #; pass query parameters in `query`");
    }
    let relative = raw.strip_prefix('/').unwrap_or(raw);
    if relative.starts_with('/') {
        return reject("must not start with // (that would name another host)");
    }
    if relative.starts_with('@') {
        return reject("must not start with @ (that would read as a user name in front of a host)");
    }
    // Check the text as given and after each round of percent-decoding, so an encoded `..`,
    // `\`, CR/LF or `://` is caught however many times a server decodes it: until decoding
    // changes nothing, and a path still changing after DECODINGS_MAX rounds is refused.
    let mut form = relative.to_string();
    let mut decodings = 0;
    loop {
        // Checked as a normalising server would read it: `．．／` is `../`.
        let normalized: String = form.nfkc().collect();
        if normalized.chars().any(char::is_control) {
            return reject("must not contain control characters such as CR or LF");
        }
        if normalized.contains('\\') {
            return reject("must not contain backslashes");
        }
        if normalized.contains("://") {
            return reject("must be a path relative to the integration's URL, not a full URL");
        }
        if normalized.split('/').any(is_dot_segment) {
            return reject("must not contain . or .. segments (in any encoding)");
        }
        let decoded = percent_decode(&normalized);
        if decoded == normalized {
            break;
        }
        decodings += 1;
        if decodings > DECODINGS_MAX {
            return reject(&format!(
                "must not be percent-encoded more than {DECODINGS_MAX} times over"
            ));
        }
        form = decoded;
    }
    Ok(relative)
}

/// `.` or `..`, also with a path parameter after it (`..;jsessionid=1`): servlet containers
/// strip the parameter and then resolve the dots.
fn is_dot_segment(segment: &str) -> bool {
    let name = segment.split(';').next().unwrap_or(segment);
    name == "." || name == ".."
}

/// Decodes `%XX` escapes; invalid escapes are left as they are, overlong UTF-8 forms of ASCII
/// become that ASCII (as lenient decoders read them), other invalid UTF-8 becomes U+FFFD.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&fold_overlong_ascii(&out)).into_owned()
}

/// Replaces overlong UTF-8 encodings of ASCII characters (`C0 AE` for `.`, `E0 80 AE`,
/// `F0 80 80 AE`) by the character. Strict decoders refuse them, but some servers decode them
/// anyway, so `%c0%ae%c0%ae` must be seen as the `..` it can become.
fn fold_overlong_ascii(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Only these leads can spell a value below 0x80: C0/C1 (2 bytes), E0 (3), F0 (4).
        let (len, lead_bits) = match bytes[i] {
            0xC0 | 0xC1 => (2, bytes[i] & 0x1F),
            0xE0 => (3, 0),
            0xF0 => (4, 0),
            _ => (1, 0),
        };
        let continuation = bytes
            .get(i + 1..i + len)
            .filter(|tail| len > 1 && tail.iter().all(|b| (0x80..=0xBF).contains(b)));
        if let Some(tail) = continuation {
            let value = tail
                .iter()
                .fold(u32::from(lead_bits), |v, b| (v << 6) | u32::from(b & 0x3F));
            if let Ok(ascii) = u8::try_from(value) {
                if ascii.is_ascii() {
                    out.push(ascii);
                    i += len;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Appends the call's query to the integration URL's own query (which is kept).
fn append_query(url: &mut Url, query: &Value) -> Result<(), FieldError> {
    match query {
        Value::Null => Ok(()),
        Value::String(raw) => {
            let raw = raw.strip_prefix('?').unwrap_or(raw);
            if raw.len() > QUERY_MAX {
                return Err(FieldError::new(
                    "query",
                    format!("query must be at most {QUERY_MAX} characters."),
                ));
            }
            if raw.contains('#') || raw.chars().any(char::is_control) {
                return Err(FieldError::new(
                    "query",
                    "query must not contain # or control characters such as CR or LF.",
                ));
            }
            if !raw.is_empty() {
                let joined = match url.query() {
                    Some(existing) if !existing.is_empty() => format!("{existing}&{raw}"),
                    _ => raw.to_string(),
                };
                url.set_query(Some(&joined));
            }
            Ok(())
        }
        Value::Object(pairs) => {
            let mut encoded = Vec::new();
            for (key, value) in pairs {
                let param = format!("query.{}", key.chars().take(64).collect::<String>());
                if key.is_empty() {
                    return Err(FieldError::new("query", "query names must not be empty."));
                }
                match value {
                    Value::Array(items) => {
                        for item in items {
                            encoded.push((key.as_str(), scalar(&param, item)?));
                        }
                    }
                    other => encoded.push((key.as_str(), scalar(&param, other)?)),
                }
            }
            if !encoded.is_empty() {
                let mut serializer = url.query_pairs_mut();
                for (key, value) in encoded {
                    serializer.append_pair(key, &value);
                }
            }
            if url.query().map_or(0, str::len) > QUERY_MAX + 1024 {
                return Err(FieldError::new("query", "query is too long."));
            }
            Ok(())
        }
        _ => Err(FieldError::new(
            "query",
            "query must be an object of name → value, or a query string.",
        )),
    }
}

fn scalar(param: &str, value: &Value) -> Result<String, FieldError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(FieldError::new(
            param,
            format!("{param} must be a string, number or boolean (or an array of them)."),
        )),
    }
}

/// The final check: same scheme, host and port as the base, no userinfo, path at or under the
/// base path.
fn stays_under(base: &Url, url: &Url) -> bool {
    let base_path = base.path().trim_end_matches('/');
    url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
        && (url.path() == base.path()
            || url.path().trim_end_matches('/') == base_path
            || url.path().starts_with(&format!("{base_path}/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Url {
        Url::parse("https://api.example.com:8443/v1/reports?apiVersion=2").unwrap()
    }

    fn path(p: &str) -> Result<Url, FieldError> {
        build(&base(), Some(p), None)
    }

    #[test]
    fn paths_are_appended_under_the_base_path() {
        assert_eq!(
            path("daily").unwrap().as_str(),
            "https://api.example.com:8443/v1/reports/daily?apiVersion=2"
        );
        assert_eq!(
            path("/daily/2026").unwrap().path(),
            "/v1/reports/daily/2026"
        );
        assert_eq!(path("").unwrap().path(), "/v1/reports");
        assert_eq!(path("/").unwrap().path(), "/v1/reports");
        assert_eq!(path("a b/ü").unwrap().path(), "/v1/reports/a%20b/%C3%BC");
        assert_eq!(path("users/@me").unwrap().path(), "/v1/reports/users/@me");
        assert_eq!(
            path("items:batchGet").unwrap().path(),
            "/v1/reports/items:batchGet"
        );
        assert_eq!(
            path("group%2Fproject").unwrap().path(),
            "/v1/reports/group%2Fproject"
        );
        let root = Url::parse("https://api.example.com").unwrap();
        assert_eq!(build(&root, Some("x"), None).unwrap().path(), "/x");
    }

    #[test]
    fn escapes_are_rejected() {
        for bad in [
            "//evil.com",
            "//evil.com/x",
            "///evil.com",
            "@evil.com",
            "/@evil.com",
            "../..",
            "../../admin",
            "a/../../b",
            "..",
            "./x",
            "%2e%2e/x",
            "%2E%2e/%2e%2E/x",
            ".%2e/x",
            "%252e%252e/x",
            "a%2f..%2f..%2fb",
            "a\\..\\b",
            "\\\\evil.com",
            "%5c%5cevil.com",
            "http://evil.com",
            "https://evil.com/x",
            "x/http%3A%2F%2Fevil.com",
            "a\r\nHost: evil.com",
            "a%0d%0aHost:%20evil.com",
            "a\nb",
            "a?b=1",
            "a#frag",
        ] {
            let err = path(bad).expect_err(bad);
            assert_eq!(err.param, "path", "{bad}");
        }
    }

    #[test]
    fn every_spelling_of_a_parent_segment_is_refused_alike() {
        let bad = [
            // Path parameters: Tomcat, Jetty and Spring read `..;x` as `..`.
            "..;/admin",
            "a/..;/..;/b",
            "..;jsessionid=1/admin",
            ".;/x",
            "%2e%2e;/x",
            // Overlong UTF-8 for `.` and `/`, which lenient decoders accept.
            "%c0%ae%c0%ae/x",
            "%C0%AE%C0%AE%C0%AFadmin",
            "%e0%80%ae%e0%80%ae/x",
            "%f0%80%80%ae%f0%80%80%ae/x",
            "a%c0%af%c0%ae%c0%ae%c0%afb",
            "%25c0%25ae%25c0%25ae/x",
            // Encoded three times over: `..` only after the third decoding (found by a
            // property test; the checks used to stop after two).
            "%25252e%25252e/x",
            "a/%2525252e%2525252e/x",
            // Full-width and other compatibility forms, which Unicode-normalising servers fold.
            "％２ｅ％２ｅ/x",
            "%ef%bc%8e%ef%bc%8e/x",
            "．．/x",
            "a/．．/．．/b",
            "..／admin",
            "．．／．．／admin",
            "a／．．／．．／b",
            "\u{2025}/x",
            "\u{fe52}\u{fe52}/x",
            "%e2%80%a5/x",
        ];
        // Every spelling that is not refused with the one message, so a failure lists them all.
        let wrong: Vec<_> = bad
            .iter()
            .filter(|bad| {
                path(bad).err().map(|e| (e.param, e.message))
                    != Some((
                        "path".to_string(),
                        "path must not contain . or .. segments (in any encoding).".to_string(),
                    ))
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "not refused as parent segments: {wrong:?}"
        );
        // Dots, semicolons and full-width characters that name no parent stay accepted.
        for good in [
            "a..b/c",
            "...",
            "v1;version=2/items",
            "a;b/..c",
            "files/report.v2.json",
            "%c0%aea",
            "ｒｅｐｏｒｔ",
            "名前/．ｘ",
        ] {
            assert!(path(good).is_ok(), "{good}: {:?}", path(good).err());
        }
    }

    #[test]
    fn queries_keep_the_base_query_and_encode_values() {
        let url = build(
            &base(),
            None,
            Some(&json!({"day": "2026-08-01", "n": 5, "tag": ["a", "b&c"]})),
        )
        .unwrap();
        assert_eq!(
            url.query(),
            Some("apiVersion=2&day=2026-08-01&n=5&tag=a&tag=b%26c")
        );
        let url = build(&base(), None, Some(&json!("?x=1&y=2"))).unwrap();
        assert_eq!(url.query(), Some("apiVersion=2&x=1&y=2"));
        assert_eq!(
            build(&base(), None, Some(&json!({"a": {"b": 1}})))
                .unwrap_err()
                .param,
            "query.a"
        );
        assert!(build(&base(), None, Some(&json!("a=1#x"))).is_err());
        assert!(build(&base(), None, Some(&json!("a=1\r\nb"))).is_err());
        assert!(build(&base(), None, Some(&json!(5))).is_err());
        // Injection attempts inside the query stay inside the query.
        let url = build(&base(), None, Some(&json!({"x": "1&admin=true#/../../"}))).unwrap();
        assert_eq!(url.host_str(), Some("api.example.com"));
        assert_eq!(url.fragment(), None);
    }

    #[test]
    fn a_path_encoded_too_many_times_over_is_refused() {
        let dot = format!("%{}2e", "25".repeat(DECODINGS_MAX));
        let err = path(&format!("{dot}{dot}/x")).unwrap_err();
        assert_eq!(
            err.message,
            format!("path must not be percent-encoded more than {DECODINGS_MAX} times over.")
        );
        // A literal percent sign, encoded once, is a path like any other.
        assert_eq!(path("100%25").unwrap().path(), "/v1/reports/100%25");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%2e%2E"), "..");
        assert_eq!(percent_decode("%252e"), "%2e");
        // Overlong forms of ASCII are read as the ASCII; real multi-byte characters are kept.
        assert_eq!(percent_decode("%c0%ae%e0%80%ae%f0%80%80%af"), "../");
        assert_eq!(percent_decode("%e0%a0%80%ef%bc%8e"), "\u{800}\u{ff0e}");
        assert_eq!(percent_decode("%c0"), "\u{fffd}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
