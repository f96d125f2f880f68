//! How a destination URL is shown wherever hookd talks about it rather than uses it: error
//! messages, logs, stored attempt and call errors. Scheme, host, port and path only — never
//! the user-info (a password) or the query string (where API keys, tokens and signatures
//! travel), so a failure can be reported anywhere without carrying a credential with it.

use url::Url;

/// `url` without its user-info, query string and fragment: `https://hooks.example.com/in`.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have user-info (`mailto:`), which have none to hide.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_query_strings_are_left_out() {
        let shown = |raw: &str| display_url(&Url::parse(raw).unwrap());
        assert_eq!(
            shown("https://user:pass@hooks.example.com:8443/in/x?token=abc&b=2#frag"),
            "https://hooks.example.com:8443/in/x"
        );
        assert_eq!(shown("https://user@h.example/"), "https://h.example/");
        assert_eq!(shown("http://127.0.0.1:1/api?"), "http://127.0.0.1:1/api");
        assert_eq!(shown("https://[::1]/p"), "https://[::1]/p");
    }
}
