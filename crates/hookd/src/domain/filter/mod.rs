//! Payload filters: an endpoint's optional CEL expression over the event, and the fan-out rule
//! that delivers an event only to endpoints whose filter is true.
//!
//! The language is the Common Expression Language, through the maintained `cel` crate (the
//! cel-rust project, formerly published as `cel-interpreter`). That crate parses and evaluates
//! but has no type checker and no cost limits, so [`Filter::parse`] adds what can be checked
//! before an event exists, and bounds what an evaluation may cost:
//!
//! - at most [`SOURCE_MAX`] bytes, at most [`OPERATORS_MAX`] operators, and nesting at most
//!   [`DEPTH_MAX`] deep (bracket nesting and the operator count are checked before the parser
//!   runs, the parser's own recursion limit and the expression tree's depth after: the parser
//!   and the evaluator recurse once per level, and a deep enough expression would overflow the
//!   stack of the thread that parses or evaluates it);
//! - only the variables `type`, `projectId` and `data` (and a macro's own iteration variable);
//! - only a fixed list of functions (operators, `size`, string predicates, conversions);
//! - a macro (`all`, `exists`, `exists_one`, `filter`, `map`) may not contain another one, and
//!   its body may use only its own variable: so each body runs once per element of one list of
//!   the event, on that element alone, and the work is linear in the event's size;
//! - at most [`CONCAT_MAX`] `+` operators, so no chain of concatenations can build a value much
//!   larger than the event;
//! - every part without variables is evaluated once at parse time, so `1 + "a"` or `"x" > 1`
//!   is rejected as the type error it is, and an expression that cannot be a boolean (a literal,
//!   arithmetic, a list) is rejected.
//!
//! The event itself is bounded by the API's body limit, so with these rules one evaluation's
//! time and memory are bounded by a small multiple of the event's size. A runtime error (a
//! missing key, comparing a string with a number) counts as false: the event is not delivered
//! to that endpoint, and the error kind is logged with the endpoint id, never a value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cel::common::ast::IdedExpr;
use cel::{Context, Env, ExecutionError, Value};

use super::ids::EndpointId;
use super::FieldError;

mod check;
#[cfg(test)]
mod props;

/// Longest filter source, in bytes.
pub const SOURCE_MAX: usize = 4096;
/// Deepest nesting of brackets and of the parser's expression rules.
pub const DEPTH_MAX: u16 = 32;
/// Most operators in one filter, counted before parsing (see `check::operator_count`).
pub const OPERATORS_MAX: usize = 128;
/// Most `+` operators in one filter (see the module docs).
pub const CONCAT_MAX: usize = 16;

const PARAM: &str = "filter";

/// The standard environment, built once (building it registers every function).
pub(super) fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(Env::stdlib()))
}

/// A checked filter: its source (stored with the endpoint) and the parsed expression.
#[derive(Debug)]
pub struct Filter {
    source: String,
    expr: IdedExpr,
}

impl Filter {
    /// Parses and checks a filter; errors name `param: "filter"` and say what is wrong (the
    /// parser's message for a syntax error).
    pub fn parse(source: &str) -> Result<Filter, FieldError> {
        if source.len() > SOURCE_MAX {
            return Err(invalid(format!(
                "filter must be at most {SOURCE_MAX} bytes (got {})",
                source.len()
            )));
        }
        if source.trim().is_empty() {
            return Err(invalid("filter must not be empty; use null for no filter"));
        }
        if check::bracket_depth(source) > usize::from(DEPTH_MAX) {
            return Err(invalid(format!(
                "filter nests brackets more than {DEPTH_MAX} deep"
            )));
        }
        if check::operator_count(source) > OPERATORS_MAX {
            return Err(invalid(format!(
                "filter has more than {OPERATORS_MAX} operators"
            )));
        }
        let expr = parse_on_own_stack(source)?;
        check::check(&expr)?;
        Ok(Filter {
            source: source.to_string(),
            expr,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the filter for an event: `Ok(true)` only for a boolean `true`.
    pub fn evaluate(&self, event: &EventView) -> Result<bool, EvalError> {
        match Value::resolve(&self.expr, &event.context) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(_) => Err(EvalError("the filter did not evaluate to a boolean")),
            Err(e) => Err(EvalError(error_kind(&e))),
        }
    }
}

/// Stack of the thread a filter is parsed on. The generated parser recurses through a couple
/// of dozen rules per nesting level with large frames: 32 levels of brackets overflow a 2 MiB
/// thread stack (tokio's workers, the test threads) in a debug build. Only the pages touched
/// are committed, so a generous reservation costs nothing.
const PARSE_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Parses on a thread of its own with [`PARSE_STACK_BYTES`] of stack: filters are parsed when an
/// endpoint is created or changed and once per process when first used, so a thread per parse
/// is cheap, and no input can overflow the stack of the thread that asked.
fn parse_on_own_stack(source: &str) -> Result<IdedExpr, FieldError> {
    let owned = source.to_string();
    let parser = std::thread::Builder::new()
        .name("hookd-filter-parse".into())
        .stack_size(PARSE_STACK_BYTES)
        .spawn(move || {
            env()
                .parser()
                .max_recursion_depth(DEPTH_MAX)
                .parse(&owned)
                .map_err(|e| e.to_string())
        })
        .map_err(|e| invalid(format!("filter could not be checked now ({e}); try again")))?;
    match parser.join() {
        Ok(Ok(expr)) => Ok(expr),
        Ok(Err(message)) => Err(invalid(format!(
            "filter does not parse: {}",
            first_error(&message)
        ))),
        Err(_) => Err(invalid("filter does not parse")),
    }
}

/// The parser's first error line, at most 300 characters: it reports every error with the whole
/// source quoted under it, which for a 4 KiB filter makes an unreadable answer.
fn first_error(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    match line.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

pub(super) fn invalid(message: impl Into<String>) -> FieldError {
    FieldError::new(PARAM, message)
}

/// Why an evaluation failed, as a fixed phrase: the crate's messages may quote event values,
/// which must not reach the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalError(pub &'static str);

pub(super) fn error_kind(e: &ExecutionError) -> &'static str {
    match e {
        ExecutionError::NoSuchKey(_) => "a key the filter reads is missing",
        ExecutionError::NoSuchOverload(_)
        | ExecutionError::UnexpectedType { .. }
        | ExecutionError::ValuesNotComparable(..)
        | ExecutionError::UnsupportedBinaryOperator(..)
        | ExecutionError::UnsupportedTargetType { .. } => "a value has the wrong type",
        ExecutionError::IndexOutOfBounds(_) | ExecutionError::UnsupportedIndex(..) => {
            "an index is out of range or of the wrong type"
        }
        ExecutionError::DivisionByZero(_) | ExecutionError::RemainderByZero(_) => {
            "division by zero"
        }
        ExecutionError::Overflow(..) => "an arithmetic overflow",
        ExecutionError::FunctionError { .. } => "a function failed",
        _ => "an evaluation error",
    }
}

/// The event as a filter sees it, converted once and shared by every endpoint's filter.
pub struct EventView {
    context: Context<'static, 'static>,
}

impl EventView {
    pub fn of(event: &super::event::NewEvent) -> EventView {
        EventView::new(&event.event_type, event.project_id.as_deref(), &event.data)
    }

    pub fn new(
        event_type: &str,
        project_id: Option<&str>,
        data: &serde_json::value::RawValue,
    ) -> EventView {
        let mut context = Context::with_env(Arc::clone(env()));
        context.add_variable_from_value("type", Value::from(event_type.to_string()));
        context.add_variable_from_value(
            "projectId",
            project_id.map_or(Value::Null, |p| Value::from(p.to_string())),
        );
        // Event data is always a JSON object checked at publish; a value the conversion refuses
        // leaves `data` undeclared, so filters reading it evaluate to an error (false).
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(data.get()) {
            context.add_variable_from_value("data", from_json(json));
        }
        EventView { context }
    }
}

/// JSON as CEL sees it. Whole numbers are `int` (`uint` only past `i64`), others `double`: so
/// `data.count % 10 == 1` works as written, where the serde path would make every JSON whole
/// number a `uint`, for which `uint % int` has no overload.
fn from_json(json: serde_json::Value) -> Value {
    use serde_json::Value as Json;
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(Arc::new(s)),
        Json::Array(items) => Value::List(Arc::new(items.into_iter().map(from_json).collect())),
        Json::Object(map) => Value::Map(cel::objects::Map {
            map: Arc::new(
                map.into_iter()
                    .map(|(k, v)| (cel::objects::Key::String(Arc::new(k)), from_json(v)))
                    .collect(),
            ),
        }),
    }
}

/// The fan-out rule for filters: of the endpoints an event matches by type and project (with
/// each one's stored filter source, if any), those whose filter is true. The event is converted
/// for the filters only when one of them has a filter.
pub fn select(
    candidates: &[(EndpointId, Option<String>)],
    view: impl FnOnce() -> EventView,
) -> Vec<&EndpointId> {
    if candidates.iter().all(|(_, f)| f.is_none()) {
        return candidates.iter().map(|(id, _)| id).collect();
    }
    let view = view();
    candidates
        .iter()
        .filter_map(|(id, source)| {
            let Some(source) = source else {
                return Some(id);
            };
            let keep = match compiled(source) {
                Ok(filter) => match filter.evaluate(&view) {
                    Ok(b) => b,
                    Err(EvalError(why)) => {
                        metrics::counter!("hookd_filter_evaluation_errors_total").increment(1);
                        tracing::info!(endpoint = %id, error = why, "an endpoint's filter failed to evaluate; counted as false");
                        false
                    }
                },
                Err(e) => {
                    // Only checked filters are stored; this one fails a rule added since.
                    tracing::warn!(endpoint = %id, error = %e.message, "an endpoint's stored filter no longer passes the checks; counted as false");
                    false
                }
            };
            keep.then_some(id)
        })
        .collect()
}

/// Most compiled filters kept; past it the cache starts over (a compile costs microseconds).
const CACHE_MAX: usize = 10_000;

/// The compiled filter for a stored source, from a process-wide cache keyed by the source
/// text: a changed filter is a different key, so nothing needs invalidating, and endpoints
/// sharing a filter share one compiled program.
pub fn compiled(source: &str) -> Result<Arc<Filter>, FieldError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Filter>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let lock = || cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = lock().get(source) {
        return Ok(Arc::clone(found));
    }
    let filter = Arc::new(Filter::parse(source)?);
    let mut map = lock();
    if map.len() >= CACHE_MAX {
        map.clear();
    }
    map.insert(source.to_string(), Arc::clone(&filter));
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(data: &str) -> EventView {
        let raw = serde_json::value::RawValue::from_string(data.to_string()).unwrap();
        EventView::new("post.created", Some("proj_1"), &raw)
    }

    fn eval(filter: &str, data: &str) -> Result<bool, EvalError> {
        Filter::parse(filter).unwrap().evaluate(&view(data))
    }

    fn rejected(filter: &str) -> String {
        let e = Filter::parse(filter).expect_err(filter);
        assert_eq!(e.param, "filter");
        e.message
    }

    #[test]
    fn evaluates_over_type_project_and_data() {
        let f = r#"data.amount > 100 && data.currency == "EUR""#;
        assert_eq!(eval(f, r#"{"amount": 150, "currency": "EUR"}"#), Ok(true));
        assert_eq!(eval(f, r#"{"amount": 50, "currency": "EUR"}"#), Ok(false));
        assert_eq!(eval(f, r#"{"amount": 150.5, "currency": "EUR"}"#), Ok(true));
        assert_eq!(eval(r#"type == "post.created""#, "{}"), Ok(true));
        assert_eq!(eval(r#"projectId == "proj_1""#, "{}"), Ok(true));
        assert_eq!(
            eval(
                r#"data.items.exists(i, i.sku == "A")"#,
                r#"{"items": [{"sku": "B"}, {"sku": "A"}]}"#
            ),
            Ok(true)
        );
        assert_eq!(eval(r#"has(data.amount)"#, "{}"), Ok(false));
        assert_eq!(eval("data.seq % 10 <= 3", r#"{"seq": 13}"#), Ok(true));
        assert_eq!(eval("data.seq % 10 <= 3", r#"{"seq": 14}"#), Ok(false));
        assert_eq!(
            eval("data.big > 0u", r#"{"big": 18446744073709551615}"#),
            Ok(true)
        );
        assert_eq!(eval("data.x * 2.0 == 3.0", r#"{"x": 1.5}"#), Ok(true));
        assert_eq!(
            eval("data.m.k.size() == 2", r#"{"m": {"k": [1, 2]}}"#),
            Ok(true)
        );
        assert_eq!(
            eval(r#""EUR" in data.currencies"#, r#"{"currencies": ["EUR"]}"#),
            Ok(true)
        );
    }

    #[test]
    fn runtime_errors_are_errors_not_panics() {
        assert!(eval("data.amount > 100", "{}").is_err());
        assert!(eval("data.amount > 100", r#"{"amount": "lots"}"#).is_err());
        assert!(eval("data.n / data.d == 1", r#"{"n": 1, "d": 0}"#).is_err());
        assert!(eval("data.flag", r#"{"flag": "yes"}"#).is_err());
    }

    #[test]
    fn rejects_what_can_be_told_without_an_event() {
        assert!(rejected("data.amount >").contains("does not parse"));
        assert!(rejected("amount > 1").contains("unknown variable `amount`"));
        assert!(rejected("nope(data)").contains("unknown or unsupported function"));
        assert!(rejected(r#"1 + "a" == 2"#).contains("type error"));
        assert!(rejected(r#""x" > 1"#).contains("type error"));
        assert!(rejected("42").contains("boolean"));
        assert!(rejected("data.amount + 1").contains("boolean"));
        assert!(rejected("[true]").contains("boolean"));
        assert!(rejected("").contains("empty"));
        assert!(rejected(&format!("{}true{}", "(".repeat(40), ")".repeat(40))).contains("deep"));
        assert!(rejected(&format!("data.a == \"{}\"", "x".repeat(5000))).contains("4096"));
        assert!(rejected("data.a.exists(x, data.b.exists(y, x == y))").contains("nest"));
        assert!(rejected("data.a.exists(x, x == data.b)").contains("own variable"));
        let chain = vec!["data.s"; 20].join(" + ");
        assert!(rejected(&format!("size({chain}) > 0")).contains("`+`"));
    }

    #[test]
    fn the_cache_compiles_once_per_source() {
        let a = compiled("data.x == 1").unwrap();
        let b = compiled("data.x == 1").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(compiled("data.x ==").is_err());
    }

    #[test]
    fn selection_keeps_unfiltered_and_true_filters() {
        let ids: Vec<EndpointId> = (0..4).map(|_| EndpointId::generate()).collect();
        let candidates = vec![
            (ids[0].clone(), None),
            (ids[1].clone(), Some("data.x == 1".to_string())),
            (ids[2].clone(), Some("data.x == 2".to_string())),
            (ids[3].clone(), Some("data.missing == 1".to_string())),
        ];
        let picked = select(&candidates, || view(r#"{"x": 1}"#));
        assert_eq!(picked, vec![&ids[0], &ids[1]]);
    }

    /// Chains the parser's recursion limit doesn't see (binary operators, indexes) are refused
    /// before they can overflow the stack of the thread that parses or evaluates them.
    #[test]
    fn long_operator_chains_are_refused_not_overflowing_the_stack() {
        let chains = [
            vec!["1"; 2048].join("*"),
            vec!["data.a"; 600].join("||"),
            format!("data{}", "[0]".repeat(1300)),
            vec!["1"; 128].join("*-"),
            format!("data{} == 1", "[0]".repeat(100)),
            vec!["data.a"; 40].join(" + "),
            vec!["a?a:"; 60].join("") + "a",
        ];
        for chain in chains {
            let message = Filter::parse(&chain).unwrap_err().message;
            assert!(message.len() < 400, "a short message: {message}");
        }
        let alternatives = (0..20)
            .map(|i| format!("data.x{i} == {i}"))
            .collect::<Vec<_>>()
            .join(" || ");
        Filter::parse(&alternatives).expect("twenty alternatives are a filter");
    }

    /// The deepest nesting allowed parses off the caller's stack: a thread with a tokio worker's
    /// 2 MiB of stack checks and evaluates it (parsing it there overflowed in a debug build).
    #[test]
    fn the_deepest_filter_parses_and_evaluates_on_a_small_stack() {
        let nested = "(".repeat(31) + "data.a == 1" + &")".repeat(31);
        let negated = "!(".repeat(30) + "data.a == 1" + &")".repeat(30);
        let small = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let event = view(r#"{"a": 1}"#);
                [nested, negated].map(|source| Filter::parse(&source).unwrap().evaluate(&event))
            })
            .unwrap();
        assert_eq!(small.join().unwrap(), [Ok(true), Ok(true)]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// No input makes parsing (or evaluating what parses) panic.
        #[test]
        fn no_input_panics(source in "\\PC{0,200}") {
            if let Ok(filter) = Filter::parse(&source) {
                let _ = filter.evaluate(&view(r#"{"a": 1, "s": "x", "l": [1, 2]}"#));
            }
        }

        #[test]
        fn no_cel_shaped_input_panics(source in "[a-z.()\\[\\]{}!&|=<>+*/%?:,'\" 0-9-]{0,300}") {
            if let Ok(filter) = Filter::parse(&source) {
                let _ = filter.evaluate(&view(r#"{"a": 1, "s": "x", "l": [1, 2]}"#));
            }
        }
    }
}
