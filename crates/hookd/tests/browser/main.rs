//! The dashboard in real headless Chromium: each test boots hookd (fresh SQLite database) and
//! drives Chromium through chromedriver with `fantoccini`, checks every screen with axe-core (no
//! violation of impact serious or critical) and saves screenshots under `target/screenshots/`.
//!
//! Like `tests/it_postgres`, this binary runs its tests with `libtest-mimic`, so that on a machine
//! without Chromium or chromedriver they are reported **ignored** with the reason printed, not
//! passed; under CI (`CI` set) the run fails instead, because CI must run them. One chromedriver
//! serves the whole run; each test gets its own browser session and its own hookd.
//!
//! To add a test: write `async fn name(b: &mut Browser)` in a module here and list it in
//! [`TESTS`] (see `docs/dashboard.md`).

use std::process::ExitCode;

use futures_util::future::LocalBoxFuture;
use libtest_mimic::{Arguments, Completion, Trial};

const BACKEND: harness::Backend = harness::Backend::Sqlite;

#[path = "../it/harness.rs"]
#[allow(unused_imports)]
mod harness;

mod endpoints;
mod portal;
mod settings_integrations;
mod settings_keys;
mod sign_in;
mod support;

use support::Browser;

type BrowserTest = for<'a> fn(&'a mut Browser) -> LocalBoxFuture<'a, ()>;

/// Lists tests as `(name, fn)` pairs, the name being the function's path.
macro_rules! browser_tests {
    ($($test:path),* $(,)?) => {
        &[$((stringify!($test), |b| Box::pin($test(b)))),*]
    };
}

/// Every browser test.
const TESTS: &[(&str, BrowserTest)] = browser_tests![
    sign_in::signs_in_and_out_with_a_key,
    sign_in::a_wrong_key_is_refused,
    sign_in::an_expired_session_is_refused,
    sign_in::a_form_post_without_the_csrf_token_is_refused,
    sign_in::repeated_wrong_keys_are_throttled,
    settings_integrations::create_try_edit_and_disconnect_a_custom_webhook,
    settings_integrations::form_errors_are_shown_beside_their_fields,
    settings_keys::create_and_revoke_a_key,
    settings_keys::revoking_your_own_key_signs_you_out,
    endpoints::create_test_publish_and_retry,
    endpoints::edit_disable_rotate_and_delete,
    endpoints::editing_the_name_keeps_the_url_password_and_sets_delivery_controls,
    endpoints::a_held_back_delivery_links_to_the_one_it_waits_for,
    portal::a_read_only_project_portal_shows_only_its_project,
];

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    // Each test runs a Chromium; two at a time keeps a small machine responsive.
    args.test_threads.get_or_insert(2);
    let driver = if args.list {
        Ok(None)
    } else {
        match support::Tools::find() {
            Ok(tools) => support::Driver::start(&tools).map(Some),
            Err(reason) => Err(reason),
        }
    };
    let driver = match driver {
        Ok(driver) => driver,
        Err(reason) if std::env::var_os("CI").is_some() => {
            eprintln!("error: CI must run the browser tests, but {reason}");
            return ExitCode::FAILURE;
        }
        Err(reason) => {
            println!("skipping the browser tests: {reason}");
            None
        }
    };
    let webdriver = driver.as_ref().map(|d| d.url.clone());
    let trials = TESTS
        .iter()
        .map(|(name, test)| {
            let name = name.replace(' ', "");
            let webdriver = webdriver.clone();
            let test = *test;
            Trial::ignorable_test(name.clone(), move || {
                let Some(webdriver) = webdriver else {
                    return Ok(Completion::Ignored {
                        reason: Some("chromium or chromedriver not available".into()),
                    });
                };
                support::run(&webdriver, &name, test)?;
                Ok(Completion::Completed)
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    drop(driver);
    conclusion.exit_code()
}
