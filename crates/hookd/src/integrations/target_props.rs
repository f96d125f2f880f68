//! Property tests of path confinement: whatever path a caller sends, a URL that [`build`]
//! accepts stays under the integration's URL for every server reading it, including one that
//! percent-decodes (any number of times), folds overlong UTF-8 and full-width forms (NFKC),
//! treats `\` as `/` and strips `;` path parameters before resolving `.` and `..`.

use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;
use url::Url;

use super::build;

const BASE: &str = "https://api.example.com:8443/v1/reports?apiVersion=2";

/// Spellings of `.`, `..` and harmless segments, as an attacker would combine them.
const SEGMENTS: &[&str] = &[
    "..",
    ".",
    "a",
    "b.c",
    "...",
    "%2e%2e",
    "%2E.",
    ".%2e",
    "%2e",
    "%252e%252e",
    "%25252e%25252e",
    "%2525252e%2525252e",
    "%%32%65%%32%65",
    "..;",
    "..;x=1",
    "%2e%2e;",
    ".;",
    "%c0%ae%c0%ae",
    "%C0%AE",
    "%e0%80%ae%e0%80%ae",
    "%f0%80%80%ae%f0%80%80%ae",
    "%25c0%25ae%25c0%25ae",
    "．．",
    "％２ｅ％２ｅ",
    "%ef%bc%8e%ef%bc%8e",
    "\u{2025}",
    "\u{fe52}\u{fe52}",
    "%e2%80%a5",
    "%00",
];

/// Separators: `/` and everything some server reads as `/`.
const SEPARATORS: &[&str] = &[
    "/",
    "/",
    "/",
    "%2f",
    "%2F",
    "%252f",
    "％２ｆ",
    "／",
    "%c0%af",
    "%e0%80%af",
    "\\",
    "%5c",
];

fn hostile_path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        4 => proptest::sample::select(SEGMENTS).prop_map(str::to_string),
        1 => "[a-z.%;25eEcC0aAfF]{1,8}",
    ];
    let separator = proptest::sample::select(SEPARATORS);
    (
        proptest::option::of(Just("/")),
        proptest::collection::vec((segment, separator), 1..6),
    )
        .prop_map(|(lead, parts)| {
            let mut path = lead.unwrap_or_default().to_string();
            for (i, (segment, sep)) in parts.iter().enumerate() {
                if i > 0 {
                    path.push_str(sep);
                }
                path.push_str(segment);
            }
            path
        })
}

/// Strict `%XX` decoding to bytes, then overlong UTF-8 forms of ASCII read as that ASCII (as a
/// lenient decoder would), then UTF-8 with replacement characters.
fn server_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut raw = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                raw.push(u8::try_from(h * 16 + l).unwrap());
                i += 3;
                continue;
            }
        }
        raw.push(bytes[i]);
        i += 1;
    }
    let mut folded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let cont = |k: usize| {
            raw.get(i + k)
                .filter(|b| (0x80..0xc0).contains(*b))
                .copied()
        };
        let decoded = match raw[i] {
            lead @ (0xc0 | 0xc1) => {
                cont(1).map(|b| (2, (u32::from(lead & 0x1f) << 6) | u32::from(b & 0x3f)))
            }
            0xe0 => cont(1)
                .zip(cont(2))
                .map(|(b1, b2)| (3, (u32::from(b1 & 0x3f) << 6) | u32::from(b2 & 0x3f))),
            0xf0 => cont(1).zip(cont(2)).zip(cont(3)).map(|((b1, b2), b3)| {
                (
                    4,
                    (u32::from(b1 & 0x3f) << 12)
                        | (u32::from(b2 & 0x3f) << 6)
                        | u32::from(b3 & 0x3f),
                )
            }),
            _ => None,
        };
        match decoded {
            Some((len, value)) if value < 0x80 => {
                folded.push(u8::try_from(value).unwrap());
                i += len;
            }
            _ => {
                folded.push(raw[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&folded).into_owned()
}

/// Resolves `.` and `..` as a servlet container would (path parameters stripped, `\` as `/`):
/// the segments left, or `None` when `..` climbs above the root.
fn resolve(path: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for segment in path.replace('\\', "/").split('/') {
        let name = segment.split(';').next().unwrap_or_default();
        match name {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            _ => out.push(name.to_string()),
        }
    }
    Some(out)
}

/// Every reading of `url`'s path (as sent, then after each of up to 8 rounds of decoding and
/// NFKC folding) resolves to the base path or under it.
fn stays_under_for_every_reader(url: &Url) -> Result<(), String> {
    let base = ["v1", "reports"];
    let mut form = url.path().to_string();
    for round in 0..8 {
        let normalized: String = form.nfkc().collect();
        let under = resolve(&normalized)
            .is_some_and(|segments| segments.len() >= base.len() && segments[..base.len()] == base);
        if !under {
            return Err(format!(
                "{} escapes {BASE} when read as {normalized:?} after {round} decodings",
                url.path()
            ));
        }
        let decoded = server_decode(&normalized);
        if decoded == form {
            break;
        }
        form = decoded;
    }
    if url.host_str() != Some("api.example.com") || url.port() != Some(8443) {
        return Err(format!("{url} has left the integration's origin"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{url} carries userinfo"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn no_accepted_path_escapes_the_base(path in hostile_path()) {
        let base = Url::parse(BASE).unwrap();
        if let Ok(url) = build(&base, Some(&path), None) {
            stays_under_for_every_reader(&url).map_err(TestCaseError::fail)?;
        }
    }

    #[test]
    fn arbitrary_paths_never_panic_nor_escape(path in prop_oneof!["\\PC{0,64}", "[./%;\\\\@:a-f0-9]{0,40}"]) {
        let base = Url::parse(BASE).unwrap();
        if let Ok(url) = build(&base, Some(&path), None) {
            stays_under_for_every_reader(&url).map_err(TestCaseError::fail)?;
        }
    }

    /// Plain names are never refused: the checks do not reject what is harmless.
    #[test]
    fn plain_paths_are_accepted_under_the_base(
        segments in proptest::collection::vec("[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,8}", 1..5)
            .prop_filter("no dot segments", |s| s.iter().all(|p| p != "." && p != ".."))
    ) {
        let base = Url::parse(BASE).unwrap();
        let path = segments.join("/");
        let url = build(&base, Some(&path), None).map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert_eq!(url.path(), format!("/v1/reports/{path}"));
        prop_assert_eq!(url.query(), Some("apiVersion=2"));
    }

    /// A query, as a string or as pairs, never moves the call to another host or path.
    #[test]
    fn queries_never_change_origin_or_path(
        text in "\\PC{0,40}",
        key in "\\PC{1,10}",
        value in "\\PC{0,20}",
    ) {
        let base = Url::parse(BASE).unwrap();
        for query in [serde_json::json!(text), serde_json::json!({ key.clone(): value.clone() })] {
            if let Ok(url) = build(&base, None, Some(&query)) {
                prop_assert_eq!(url.host_str(), Some("api.example.com"));
                prop_assert_eq!(url.path(), "/v1/reports");
                prop_assert_eq!(url.fragment(), None);
            }
        }
    }
}
