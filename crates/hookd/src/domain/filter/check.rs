//! The checks a filter passes before it is stored (see the parent module's docs): known
//! variables and functions, macros that neither nest nor reach outside their element, a bounded
//! number of `+`, no type error in the parts without variables, and a result that can be a
//! boolean.

use std::sync::Arc;

use cel::common::ast::{operators, EntryExpr, Expr, IdedExpr};
use cel::{Context, Value};

use super::{env, error_kind, invalid, CONCAT_MAX, DEPTH_MAX};
use crate::domain::FieldError;

/// The variables a filter sees.
const VARIABLES: [&str; 3] = ["type", "projectId", "data"];

/// Functions a filter may call: CEL's operators and a handful of linear-time functions.
const FUNCTIONS: &[&str] = &[
    operators::CONDITIONAL,
    operators::LOGICAL_AND,
    operators::LOGICAL_OR,
    operators::LOGICAL_NOT,
    operators::SUBSTRACT,
    operators::ADD,
    operators::MULTIPLY,
    operators::DIVIDE,
    operators::MODULO,
    operators::EQUALS,
    operators::NOT_EQUALS,
    operators::GREATER_EQUALS,
    operators::LESS_EQUALS,
    operators::GREATER,
    operators::LESS,
    operators::NEGATE,
    operators::INDEX,
    operators::IN,
    operators::NOT_STRICTLY_FALSE,
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
];

/// Calls whose result is a boolean (for the check that a filter can be true or false).
const BOOLEAN_CALLS: &[&str] = &[
    operators::LOGICAL_AND,
    operators::LOGICAL_OR,
    operators::LOGICAL_NOT,
    operators::EQUALS,
    operators::NOT_EQUALS,
    operators::GREATER_EQUALS,
    operators::LESS_EQUALS,
    operators::GREATER,
    operators::LESS,
    operators::IN,
    operators::NOT_STRICTLY_FALSE,
    "contains",
    "startsWith",
    "endsWith",
    "matches",
];

/// Runs every check on a parsed filter.
pub(super) fn check(expr: &IdedExpr) -> Result<(), FieldError> {
    let mut walk = Check::default();
    walk.walk(expr, &Scope::Top, 0)?;
    if walk.concatenations > CONCAT_MAX {
        return Err(invalid(format!(
            "filter uses more than {CONCAT_MAX} `+` operators"
        )));
    }
    check_constants(expr)?;
    if kind(expr) == Kind::NotBool {
        return Err(invalid(
            "filter must be a boolean expression (true or false)",
        ));
    }
    Ok(())
}

/// The deepest bracket nesting of `source`, counting brackets inside string literals too: a
/// conservative bound that keeps the parser's stack small before it runs.
pub(super) fn bracket_depth(source: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in source.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// How many operator tokens `source` has outside string literals (a run of operator characters
/// counts once; an index `[` counts as an operator; the `.` of a number counts too, which only errs on the safe side). The parser
/// recurses once per operator of a chain, whatever its recursion limit says, so a long chain
/// must be refused before it runs (see [`super::OPERATORS_MAX`]).
pub(super) fn operator_count(source: &str) -> usize {
    const OPERATOR_CHARS: &str = "*/%+-<>=!&|?:.[";
    let (mut count, mut in_operator, mut quote, mut escaped) = (0usize, false, None, false);
    for c in source.chars() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            in_operator = false;
            continue;
        }
        let is_operator = OPERATOR_CHARS.contains(c);
        if is_operator && !in_operator {
            count += 1;
        }
        in_operator = is_operator;
    }
    count
}

/// Where a node sits: at the top, or inside a macro's body with its own variables.
enum Scope<'a> {
    Top,
    Body(Vec<&'a str>),
}

#[derive(Default)]
struct Check {
    concatenations: usize,
}

impl Check {
    /// `depth` is the node's depth in the expression tree. The parser's own recursion limit
    /// doesn't count chains of binary operators (`1 * 1 * … * 1` parses into a tree as deep as
    /// the chain is long), and evaluating such a tree recurses once per level: a deep one would
    /// overflow a thread's stack at publish. So the tree's depth is bounded here, before any
    /// evaluation, and this walk stops one level past the bound.
    fn walk(&mut self, node: &IdedExpr, scope: &Scope<'_>, depth: u16) -> Result<(), FieldError> {
        if depth > DEPTH_MAX {
            return Err(invalid(format!(
                "filter nests operators more than {DEPTH_MAX} deep; split a long chain of operators with brackets"
            )));
        }
        let depth = depth + 1;
        match &node.expr {
            Expr::Ident(name) => match scope {
                Scope::Top if VARIABLES.contains(&name.as_str()) => Ok(()),
                Scope::Top => Err(invalid(format!(
                    "filter refers to an unknown variable `{name}`; it may use type, projectId and data"
                ))),
                Scope::Body(own) if own.contains(&name.as_str()) => Ok(()),
                Scope::Body(_) => Err(invalid(format!(
                    "inside a macro (all, exists, map, …) a filter may use only the macro's own variable, not `{name}`"
                ))),
            },
            Expr::Literal(_) => Ok(()),
            Expr::Select(select) => self.walk(&select.operand, scope, depth),
            Expr::Call(call) => {
                if !FUNCTIONS.contains(&call.func_name.as_str()) {
                    return Err(invalid(format!(
                        "filter calls an unknown or unsupported function `{}`",
                        call.func_name
                    )));
                }
                if call.func_name == operators::ADD {
                    self.concatenations += 1;
                }
                if let Some(target) = &call.target {
                    self.walk(target, scope, depth)?;
                }
                call.args.iter().try_for_each(|a| self.walk(a, scope, depth))
            }
            Expr::List(list) => list.elements.iter().try_for_each(|e| self.walk(e, scope, depth)),
            Expr::Map(map) => map.entries.iter().try_for_each(|entry| match &entry.expr {
                EntryExpr::MapEntry(m) => {
                    self.walk(&m.key, scope, depth)?;
                    self.walk(&m.value, scope, depth)
                }
                EntryExpr::StructField(f) => self.walk(&f.value, scope, depth),
            }),
            Expr::Struct(_) => Err(invalid("filter may not construct message types")),
            Expr::Comprehension(c) => {
                if matches!(scope, Scope::Body(_)) {
                    return Err(invalid(
                        "filter may not nest macros (all, exists, exists_one, filter, map)",
                    ));
                }
                self.walk(&c.iter_range, scope, depth)?;
                let mut own = vec![c.iter_var.as_str(), c.accu_var.as_str()];
                own.extend(c.iter_var2.as_deref());
                let body = Scope::Body(own);
                for part in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                    self.walk(part, &body, depth)?;
                }
                Ok(())
            }
            Expr::Unspecified => Err(invalid("filter does not parse")),
        }
    }
}

/// Whether a node reads no variable and runs no macro: its value is known without an event.
fn is_constant(node: &IdedExpr) -> bool {
    match &node.expr {
        Expr::Literal(_) => true,
        Expr::Ident(_) | Expr::Comprehension(_) | Expr::Struct(_) | Expr::Unspecified => false,
        Expr::Select(s) => is_constant(&s.operand),
        Expr::Call(c) => {
            c.target.as_deref().is_none_or(is_constant) && c.args.iter().all(is_constant)
        }
        Expr::List(l) => l.elements.iter().all(is_constant),
        Expr::Map(m) => m.entries.iter().all(|e| match &e.expr {
            EntryExpr::MapEntry(m) => is_constant(&m.key) && is_constant(&m.value),
            EntryExpr::StructField(f) => is_constant(&f.value),
        }),
    }
}

/// Evaluates every largest constant part once: an error there is an error for every event.
fn check_constants(node: &IdedExpr) -> Result<(), FieldError> {
    if is_constant(node) {
        let context = Context::with_env(Arc::clone(env()));
        return match Value::resolve(node, &context) {
            Ok(_) => Ok(()),
            Err(e) => Err(invalid(format!(
                "filter has a type error: {}",
                error_kind(&e)
            ))),
        };
    }
    match &node.expr {
        Expr::Select(s) => check_constants(&s.operand),
        Expr::Call(c) => {
            if let Some(target) = &c.target {
                check_constants(target)?;
            }
            c.args.iter().try_for_each(check_constants)
        }
        Expr::List(l) => l.elements.iter().try_for_each(check_constants),
        Expr::Map(m) => m.entries.iter().try_for_each(|e| match &e.expr {
            EntryExpr::MapEntry(m) => {
                check_constants(&m.key)?;
                check_constants(&m.value)
            }
            EntryExpr::StructField(f) => check_constants(&f.value),
        }),
        Expr::Comprehension(c) => {
            check_constants(&c.iter_range)?;
            check_constants(&c.loop_step)
        }
        _ => Ok(()),
    }
}

/// What can be told of an expression's type without an event.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    NotBool,
    Unknown,
}

fn kind(node: &IdedExpr) -> Kind {
    match &node.expr {
        Expr::Literal(cel::common::ast::LiteralValue::Boolean(_)) => Kind::Bool,
        Expr::Literal(_) | Expr::List(_) | Expr::Map(_) | Expr::Struct(_) => Kind::NotBool,
        Expr::Select(s) if s.test => Kind::Bool,
        Expr::Call(c) if c.func_name == operators::CONDITIONAL && c.args.len() == 3 => {
            match (kind(&c.args[1]), kind(&c.args[2])) {
                (Kind::NotBool, _) | (_, Kind::NotBool) => Kind::NotBool,
                (Kind::Bool, Kind::Bool) => Kind::Bool,
                _ => Kind::Unknown,
            }
        }
        Expr::Call(c) if BOOLEAN_CALLS.contains(&c.func_name.as_str()) => Kind::Bool,
        Expr::Call(c) if c.func_name == operators::INDEX => Kind::Unknown,
        Expr::Call(_) => Kind::NotBool,
        Expr::Comprehension(c) => match &c.result.expr {
            Expr::Ident(name) if *name == c.accu_var => kind(&c.accu_init),
            _ => kind(&c.result),
        },
        Expr::Ident(_) | Expr::Select(_) | Expr::Unspecified => Kind::Unknown,
    }
}
